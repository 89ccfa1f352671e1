import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type TestDnsServer } from '@outpost/testing';
import { createDnsResolver, type DnsError, type DnsResolverOptions } from '../src/index.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

/** A resolver on a clock the test moves; the floor is the default 5 s unless given. */
function resolverAt(clock: { now: number }, options: DnsResolverOptions = {}) {
  return createDnsResolver({
    servers: [dns.address],
    timeoutMs: 300,
    tries: 1,
    now: () => clock.now,
    ...options,
  });
}

const queriesFor = (name: string, type: string) =>
  dns.queries.filter((query) => query.name === name && query.type === type).length;

test('TTL 0 addresses are served from cache for the floor, then asked for again', async () => {
  const clock = { now: 1_000_000 };
  const resolver = resolverAt(clock);
  // dnsmasq's local records: TTL 0, and no AAAA (NODATA).
  dns.set('zero.example', [{ type: 'A', address: '192.0.2.20', ttl: 0 }]);
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(await resolver.resolveAddresses('zero.example'), { ipv4: ['192.0.2.20'], ipv6: [] });
  }
  dns.set('zero.example', [{ type: 'A', address: '192.0.2.21', ttl: 0 }]);
  clock.now += 4_999;
  assert.deepEqual(
    (await resolver.resolveAddresses('zero.example')).ipv4,
    ['192.0.2.20'],
    'within the floor',
  );
  assert.equal(queriesFor('zero.example', 'A'), 1);
  assert.equal(queriesFor('zero.example', 'AAAA'), 1, 'the NODATA answer is cached too');
  clock.now += 1;
  assert.deepEqual((await resolver.resolveAddresses('zero.example')).ipv4, ['192.0.2.21'], 'after the floor');
  assert.equal(queriesFor('zero.example', 'A'), 2);
  assert.equal(queriesFor('zero.example', 'AAAA'), 2);
});

test('the floor is configurable, and 0 caches TTL 0 answers not at all', async () => {
  const clock = { now: 1_000_000 };
  dns.set('floor.example', [{ type: 'A', address: '192.0.2.22', ttl: 0 }]);
  const longer = resolverAt(clock, { minTtlMs: 30_000 });
  await longer.resolveAddresses('floor.example');
  clock.now += 29_999;
  await longer.resolveAddresses('floor.example');
  assert.equal(queriesFor('floor.example', 'A'), 1, 'kept for the configured 30 s');

  dns.set('nofloor.example', [{ type: 'A', address: '192.0.2.23', ttl: 0 }]);
  const none = resolverAt(clock, { minTtlMs: 0 });
  await none.resolveAddresses('nofloor.example');
  await none.resolveAddresses('nofloor.example');
  assert.equal(queriesFor('nofloor.example', 'A'), 2);
  assert.equal(queriesFor('nofloor.example', 'AAAA'), 2);
});

test('NXDOMAIN and NODATA are cached for the floor, even where MX answers are kept longer', async () => {
  const clock = { now: 1_000_000 };
  const resolver = resolverAt(clock, { mxCacheMs: 300_000 });
  dns.nxdomain('nx.example');
  dns.set('implicit.example', [{ type: 'A', address: '192.0.2.24' }]);
  for (let i = 0; i < 3; i++) {
    await assert.rejects(resolver.resolveMx('nx.example'), (error: DnsError) => error.failure === 'nxdomain');
    await assert.rejects(
      resolver.resolveAddresses('nx.example'),
      (error: DnsError) => error.failure === 'nxdomain',
    );
    assert.deepEqual(await resolver.resolveMx('implicit.example'), [], 'implicit MX');
  }
  assert.equal(queriesFor('nx.example', 'MX'), 1);
  assert.equal(queriesFor('nx.example', 'A'), 1);
  assert.equal(queriesFor('nx.example', 'AAAA'), 1);
  assert.equal(queriesFor('implicit.example', 'MX'), 1);

  // The names appear: seen once the floor has passed, not after mxCacheMs.
  dns.set('nx.example', [{ type: 'A', address: '192.0.2.25' }]);
  dns.set('implicit.example', [{ type: 'MX', exchange: 'in.implicit.example', priority: 5 }]);
  clock.now += 5_000;
  assert.deepEqual(await resolver.resolveAddresses('nx.example'), { ipv4: ['192.0.2.25'], ipv6: [] });
  assert.deepEqual(await resolver.resolveMx('implicit.example'), [
    { exchange: 'in.implicit.example', priority: 5 },
  ]);
});

test('SERVFAIL is never cached: each lookup asks, and recovery is seen at once', async () => {
  const clock = { now: 1_000_000 };
  const resolver = resolverAt(clock);
  dns.servfail('flaky.example');
  for (let i = 0; i < 3; i++) {
    await assert.rejects(
      resolver.resolveMx('flaky.example'),
      (error: DnsError) => error.failure === 'temporary',
    );
    await assert.rejects(
      resolver.resolveAddresses('flaky.example'),
      (error: DnsError) => error.failure === 'temporary',
    );
  }
  assert.equal(queriesFor('flaky.example', 'MX'), 3);
  assert.equal(queriesFor('flaky.example', 'A'), 3);
  assert.equal(queriesFor('flaky.example', 'AAAA'), 3);
  dns.set('flaky.example', [{ type: 'A', address: '192.0.2.26' }]);
  assert.deepEqual((await resolver.resolveAddresses('flaky.example')).ipv4, ['192.0.2.26']);
});

test('the cache holds at most maxEntries answers, dropping the oldest', async () => {
  const clock = { now: 1_000_000 };
  const resolver = resolverAt(clock, { maxEntries: 2 });
  for (const name of ['one', 'two', 'three']) {
    dns.set(`${name}.bound.example`, [{ type: 'MX', exchange: `in.${name}.bound.example`, priority: 1 }]);
    await resolver.resolveMx(`${name}.bound.example`);
  }
  await resolver.resolveMx('three.bound.example');
  await resolver.resolveMx('two.bound.example');
  assert.equal(queriesFor('three.bound.example', 'MX'), 1, 'still cached');
  assert.equal(queriesFor('two.bound.example', 'MX'), 1, 'still cached');
  await resolver.resolveMx('one.bound.example');
  assert.equal(queriesFor('one.bound.example', 'MX'), 2, 'evicted when the third came in');
});
