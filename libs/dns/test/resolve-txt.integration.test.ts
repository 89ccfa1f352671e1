import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type TestDnsServer } from '@outpost/testing';
import { createDnsResolver, type DnsError } from '../src/index.ts';

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
});
after(async () => {
  await dns.close();
});

const resolverFor = (now?: () => number) =>
  createDnsResolver({ servers: [dns.address], timeoutMs: 300, tries: 1, ...(now && { now }) });

test('TXT records come back as their character-strings, a long one split at 255 bytes', async () => {
  const long = `v=STSv1; id=${'a'.repeat(20)}; ext=${'b'.repeat(300)}`;
  dns.set('_mta-sts.txt.example', [
    { type: 'TXT', data: 'v=STSv1; id=20260101;' },
    { type: 'TXT', data: long },
  ]);
  const records = await resolverFor().resolveTxt('_mta-sts.txt.example');
  assert.deepEqual(records.map((strings) => strings.join('')).sort(), ['v=STSv1; id=20260101;', long].sort());
  assert.ok(
    records.some((strings) => strings.length === 2),
    'the long record arrives in two strings',
  );
});

test('no TXT at an existing name is [], NXDOMAIN is permanent, SERVFAIL temporary', async () => {
  dns.set('a-only.example', [{ type: 'A', address: '192.0.2.1' }]);
  dns.nxdomain('_mta-sts.gone.example');
  dns.servfail('_mta-sts.broken.example');
  const resolver = resolverFor();
  assert.deepEqual(await resolver.resolveTxt('a-only.example'), []);
  await assert.rejects(
    resolver.resolveTxt('_mta-sts.gone.example'),
    (error: DnsError) => error.failure === 'nxdomain',
  );
  await assert.rejects(
    resolver.resolveTxt('_mta-sts.broken.example'),
    (error: DnsError) => error.failure === 'temporary',
  );
});

test('answers and NXDOMAIN are cached for a while; a temporary failure is not', async () => {
  let now = 1_000_000;
  const resolver = resolverFor(() => now);
  dns.set('_mta-sts.cached.example', [{ type: 'TXT', data: 'v=STSv1; id=one;' }]);
  dns.nxdomain('_mta-sts.none.example');
  dns.servfail('_mta-sts.flaky.example');
  await resolver.resolveTxt('_mta-sts.cached.example');
  await resolver.resolveTxt('_mta-sts.none.example').catch(() => {});
  await resolver.resolveTxt('_mta-sts.flaky.example').catch(() => {});
  dns.set('_mta-sts.cached.example', [{ type: 'TXT', data: 'v=STSv1; id=two;' }]);
  dns.set('_mta-sts.none.example', [{ type: 'TXT', data: 'v=STSv1; id=new;' }]);
  dns.set('_mta-sts.flaky.example', [{ type: 'TXT', data: 'v=STSv1; id=up;' }]);
  assert.deepEqual(await resolver.resolveTxt('_mta-sts.cached.example'), [['v=STSv1; id=one;']]);
  await assert.rejects(resolver.resolveTxt('_mta-sts.none.example'));
  assert.deepEqual(await resolver.resolveTxt('_mta-sts.flaky.example'), [['v=STSv1; id=up;']]);
  now += 300_000;
  assert.deepEqual(await resolver.resolveTxt('_mta-sts.cached.example'), [['v=STSv1; id=two;']]);
  assert.deepEqual(await resolver.resolveTxt('_mta-sts.none.example'), [['v=STSv1; id=new;']]);
});
