import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type TestDnsServer } from '@outpost/testing';
import { createDnsResolver, DnsError } from '../src/index.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

const resolverFor = () => createDnsResolver({ servers: [dns.address], timeoutMs: 300, tries: 1 });

const queriesFor = (name: string, type: string) =>
  dns.queries.filter((query) => query.name === name && query.type === type).length;

const CONCURRENT = 10;
const times = <T>(run: () => Promise<T>) => Promise.all(Array.from({ length: CONCURRENT }, run));
const settleTimes = <T>(run: () => Promise<T>) => Promise.allSettled(Array.from({ length: CONCURRENT }, run));

test('concurrent lookups of one name and type share a single query', async () => {
  dns.set('busy.example', [
    { type: 'MX', exchange: 'in.busy.example', priority: 10 },
    { type: 'A', address: '192.0.2.30', ttl: 0 },
  ]);
  const resolver = resolverFor();
  const [addresses, exchanges] = await Promise.all([
    times(() => resolver.resolveAddresses('busy.example')),
    // Names compare case-insensitively: these share the query too.
    times(() => resolver.resolveMx('Busy.Example')),
  ]);
  for (const answer of addresses) assert.deepEqual(answer, { ipv4: ['192.0.2.30'], ipv6: [] });
  for (const answer of exchanges) assert.deepEqual(answer, [{ exchange: 'in.busy.example', priority: 10 }]);
  assert.equal(queriesFor('busy.example', 'A'), 1);
  assert.equal(queriesFor('busy.example', 'AAAA'), 1);
  assert.equal(queriesFor('busy.example', 'MX'), 1);
});

test('a temporary failure of the shared query rejects every waiter with the same error', async () => {
  dns.servfail('down.example');
  dns.silence('silent.example');
  const resolver = resolverFor();
  for (const name of ['down.example', 'silent.example']) {
    const results = await settleTimes(() => resolver.resolveMx(name));
    const errors = results.map((result) => (result.status === 'rejected' ? result.reason : undefined));
    assert.ok(errors[0] instanceof DnsError && errors[0].failure === 'temporary', `${name} fails`);
    for (const error of errors) assert.equal(error, errors[0], 'one error, shared');
    assert.equal(queriesFor(name, 'MX'), 1, `${name}: one query`);
  }
  // Not cached: the next lookup, alone, asks again.
  await assert.rejects(resolver.resolveMx('down.example'));
  assert.equal(queriesFor('down.example', 'MX'), 2);
});

test('a negative answer of the shared query reaches every waiter', async () => {
  dns.nxdomain('missing.example');
  const resolver = resolverFor();
  const results = await settleTimes(() => resolver.resolveAddresses('missing.example'));
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result as PromiseRejectedResult).reason.failure, 'nxdomain');
  }
  assert.equal(queriesFor('missing.example', 'A'), 1);
  assert.equal(queriesFor('missing.example', 'AAAA'), 1);
});
