import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interleaveAddresses, isPrivateAddress, orderMxHosts } from '../src/index.ts';

const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

test('MX hosts by preference, lowest first', () => {
  const route = orderMxHosts(
    'example.org',
    [
      { exchange: 'backup.example.org', priority: 20 },
      { exchange: 'MX1.example.org.', priority: 10 },
    ],
    Math.random,
  );
  assert.deepEqual(route, {
    kind: 'hosts',
    hosts: ['mx1.example.org', 'backup.example.org'],
    implicit: false,
  });
});

test('equal preferences are shuffled by the injected randomness', () => {
  const records = [
    { exchange: 'a.example', priority: 10 },
    { exchange: 'b.example', priority: 10 },
    { exchange: 'c.example', priority: 20 },
  ];
  assert.deepEqual(orderMxHosts('x', records, sequence(0.99)), {
    kind: 'hosts',
    hosts: ['a.example', 'b.example', 'c.example'],
    implicit: false,
  });
  assert.deepEqual(orderMxHosts('x', records, sequence(0)), {
    kind: 'hosts',
    hosts: ['b.example', 'a.example', 'c.example'],
    implicit: false,
  });
});

test('no MX records: the domain is its own implicit MX (RFC 5321 §5.1)', () => {
  assert.deepEqual(orderMxHosts('example.org', [], Math.random), {
    kind: 'hosts',
    hosts: ['example.org'],
    implicit: true,
  });
});

test('"MX 0 ." is a null MX (RFC 7505)', () => {
  assert.deepEqual(orderMxHosts('example.org', [{ exchange: '', priority: 0 }], Math.random), {
    kind: 'null-mx',
  });
});

test('as a backup MX this server drops itself and every MX not better than it (RFC 5321 §5.1)', () => {
  const records = [
    { exchange: 'mx1.example.org', priority: 10 },
    { exchange: 'OUTPOST.example.net.', priority: 20 },
    { exchange: 'peer.example.org', priority: 20 },
    { exchange: 'last.example.org', priority: 30 },
  ];
  const isSelf = (host: string) => host === 'outpost.example.net';
  assert.deepEqual(orderMxHosts('example.org', records, Math.random, isSelf), {
    kind: 'hosts',
    hosts: ['mx1.example.org'],
    implicit: false,
  });
});

test('this server as the best MX, alone or tied, leaves nothing to relay to: a loop', () => {
  const isSelf = (host: string) => host === 'outpost.example.net';
  assert.deepEqual(
    orderMxHosts(
      'example.org',
      [
        { exchange: 'outpost.example.net', priority: 10 },
        { exchange: 'tied.example.org', priority: 10 },
        { exchange: 'backup.example.org', priority: 20 },
      ],
      Math.random,
      isSelf,
    ),
    { kind: 'self', host: 'outpost.example.net' },
  );
});

test('addresses alternate families, IPv4 first, and honour the family policy', () => {
  assert.deepEqual(interleaveAddresses(['1.1.1.1', '2.2.2.2', '3.3.3.3'], ['::a'], 'both'), [
    '1.1.1.1',
    '::a',
    '2.2.2.2',
    '3.3.3.3',
  ]);
  assert.deepEqual(interleaveAddresses(['1.1.1.1'], ['::a'], 'ipv4'), ['1.1.1.1']);
  assert.deepEqual(interleaveAddresses(['1.1.1.1'], ['::a', '::b'], 'ipv6'), ['::a', '::b']);
});

test('private and loopback destinations are recognised', () => {
  for (const address of [
    '127.0.0.2',
    '10.1.1.1',
    '192.168.0.1',
    '172.20.0.1',
    '169.254.1.1',
    '::1',
    'fd00::1',
    'fe80::1',
    '::ffff:10.0.0.1',
  ]) {
    assert.equal(isPrivateAddress(address), true, address);
  }
  for (const address of ['192.0.2.1', '8.8.8.8', '2001:db8::1', '172.32.0.1']) {
    assert.equal(isPrivateAddress(address), false, address);
  }
});
