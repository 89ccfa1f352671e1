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

test('MX records, and an implicit MX when the name exists without MX', async () => {
  dns.set('mx.example', [
    { type: 'MX', exchange: 'in1.mx.example', priority: 10 },
    { type: 'MX', exchange: 'in2.mx.example', priority: 20 },
  ]);
  dns.set('plain.example', [{ type: 'A', address: '192.0.2.10' }]);
  const resolver = resolverFor();
  assert.deepEqual(
    (await resolver.resolveMx('mx.example')).sort((a, b) => a.priority - b.priority),
    [
      { exchange: 'in1.mx.example', priority: 10 },
      { exchange: 'in2.mx.example', priority: 20 },
    ],
  );
  assert.deepEqual(await resolver.resolveMx('plain.example'), []);
});

test('NXDOMAIN is permanent; SERVFAIL and silence are temporary', async () => {
  dns.nxdomain('gone.example');
  dns.servfail('broken.example');
  dns.silence('silent.example');
  const resolver = resolverFor();
  await assert.rejects(resolver.resolveMx('gone.example'), (error: DnsError) => error.failure === 'nxdomain');
  await assert.rejects(
    resolver.resolveMx('broken.example'),
    (error: DnsError) => error.failure === 'temporary',
  );
  await assert.rejects(
    resolver.resolveMx('silent.example'),
    (error: DnsError) => error.failure === 'temporary',
  );
  await assert.rejects(
    resolver.resolveAddresses('gone.example'),
    (error: DnsError) => error.failure === 'nxdomain',
  );
});

test('A and AAAA together; a host with only AAAA; a host with neither', async () => {
  dns.set('both.example', [
    { type: 'A', address: '192.0.2.1' },
    { type: 'A', address: '192.0.2.2' },
    { type: 'AAAA', address: '2001:db8::1' },
  ]);
  dns.set('v6.example', [{ type: 'AAAA', address: '2001:db8::2' }]);
  dns.set('none.example', [{ type: 'TXT', data: 'nothing here' }]);
  const resolver = resolverFor();
  const both = await resolver.resolveAddresses('both.example');
  assert.deepEqual(both.ipv4.sort(), ['192.0.2.1', '192.0.2.2']);
  assert.deepEqual(both.ipv6, ['2001:db8::1']);
  assert.deepEqual(await resolver.resolveAddresses('v6.example'), { ipv4: [], ipv6: ['2001:db8::2'] });
  assert.deepEqual(await resolver.resolveAddresses('none.example'), { ipv4: [], ipv6: [] });
});

test('answers are cached for their TTL, and forget() drops a host so the next try asks again', async () => {
  let clock = 1_000_000;
  const resolver = resolverFor(() => clock);
  dns.set('cached.example', [{ type: 'A', address: '192.0.2.5', ttl: 60 }]);
  assert.deepEqual((await resolver.resolveAddresses('cached.example')).ipv4, ['192.0.2.5']);
  dns.set('cached.example', [{ type: 'A', address: '192.0.2.6', ttl: 60 }]);
  assert.deepEqual(
    (await resolver.resolveAddresses('cached.example')).ipv4,
    ['192.0.2.5'],
    'served from cache',
  );
  clock += 61_000;
  assert.deepEqual(
    (await resolver.resolveAddresses('cached.example')).ipv4,
    ['192.0.2.6'],
    'expired after TTL',
  );
  dns.set('cached.example', [{ type: 'A', address: '192.0.2.7', ttl: 60 }]);
  resolver.forget('cached.example');
  assert.deepEqual(
    (await resolver.resolveAddresses('cached.example')).ipv4,
    ['192.0.2.7'],
    'looked up again',
  );
});
