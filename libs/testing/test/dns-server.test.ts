import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Packet } from 'dns2';
import { reverseName, startDnsServer, type TestDnsServer } from '../src/dns-server.ts';

async function withServer(fn: (server: TestDnsServer, resolver: Resolver) => Promise<void>): Promise<void> {
  const server = await startDnsServer();
  try {
    await fn(server, resolverFor(server));
  } finally {
    await server.close();
  }
}

function resolverFor(server: TestDnsServer, options: { timeout?: number; tries?: number } = {}): Resolver {
  const resolver = new Resolver({ timeout: options.timeout ?? 1000, tries: options.tries ?? 1 });
  resolver.setServers([server.address]);
  return resolver;
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, code);
    return true;
  });
}

/** Sends one query over TCP (2-byte length prefix, RFC 1035 4.2.2) and parses the answer. */
async function queryTcp(
  server: TestDnsServer,
  name: string,
  type: keyof typeof Packet.TYPE,
): Promise<Packet> {
  const query = new Packet();
  query.header.id = 4242;
  query.questions.push(new Packet.Question(name, Packet.TYPE[type], Packet.CLASS.IN));
  const body = query.toBuffer();
  const socket = connect({ host: server.host, port: server.port });
  try {
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(body.length);
    socket.end(Buffer.concat([prefix, body]));
    return Packet.parse(await Packet.readStream(socket));
  } finally {
    socket.destroy();
  }
}

test('binds a free port on 127.0.0.1 and reports a setServers-ready address', async () => {
  await withServer(async (server) => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(server.address, `127.0.0.1:${server.port}`);
  });
});

test('serves over IPv6 loopback', async () => {
  const server = await startDnsServer({ host: '::1' });
  try {
    assert.equal(server.address, `[::1]:${server.port}`);
    server.set('v6.example.test', [{ type: 'A', address: '127.0.0.7' }]);
    assert.deepEqual(await resolverFor(server).resolve4('v6.example.test'), ['127.0.0.7']);
  } finally {
    await server.close();
  }
});

test('refuses to bind a non-loopback address', async () => {
  await assert.rejects(startDnsServer({ host: '0.0.0.0' }), /loopback/);
});

test('serves MX records with their priorities', async () => {
  await withServer(async (server, resolver) => {
    server.set('example.test', [
      { type: 'MX', exchange: 'mx1.example.test', priority: 10 },
      { type: 'MX', exchange: 'mx2.example.test', priority: 20, ttl: 60 },
    ]);
    // Node 24 adds `type: 'MX'` to each entry; compare only the fields that matter here.
    const mx = (await resolver.resolveMx('example.test')).map(({ exchange, priority }) => ({
      exchange,
      priority,
    }));
    assert.deepEqual(
      mx.sort((a, b) => a.priority - b.priority),
      [
        { exchange: 'mx1.example.test', priority: 10 },
        { exchange: 'mx2.example.test', priority: 20 },
      ],
    );
  });
});

test('serves A and AAAA records, with TTLs visible through {ttl: true}', async () => {
  await withServer(async (server, resolver) => {
    server.set('mx1.example.test', [
      { type: 'A', address: '127.0.0.2' },
      { type: 'A', address: '127.0.0.3', ttl: 42 },
      { type: 'AAAA', address: '::1', ttl: 7 },
    ]);
    const v4 = await resolver.resolve4('mx1.example.test', { ttl: true });
    assert.deepEqual(
      v4.sort((a, b) => a.address.localeCompare(b.address)),
      [
        { address: '127.0.0.2', ttl: 300 },
        { address: '127.0.0.3', ttl: 42 },
      ],
    );
    assert.deepEqual(await resolver.resolve6('mx1.example.test', { ttl: true }), [
      { address: '::1', ttl: 7 },
    ]);
  });
});

test('serves CNAME records and follows them for other types', async () => {
  await withServer(async (server, resolver) => {
    server.set('alias.example.test', [{ type: 'CNAME', target: 'real.example.test' }]);
    server.set('real.example.test', [{ type: 'A', address: '127.0.0.9' }]);
    assert.deepEqual(await resolver.resolveCname('alias.example.test'), ['real.example.test']);
    assert.deepEqual(await resolver.resolve4('alias.example.test'), ['127.0.0.9']);
  });
});

test('serves TXT records, splitting strings longer than 255 bytes', async () => {
  await withServer(async (server, resolver) => {
    const long = 'v=spf1 '.padEnd(300, 'x');
    server.set('example.test', [
      { type: 'TXT', data: 'v=spf1 -all' },
      { type: 'TXT', data: ['part one', 'part two'] },
      { type: 'TXT', data: long },
    ]);
    const txt = await resolver.resolveTxt('example.test');
    assert.equal(txt.length, 3);
    assert.deepEqual(
      txt.find((r) => r[0] === 'v=spf1 -all'),
      ['v=spf1 -all'],
    );
    assert.deepEqual(
      txt.find((r) => r[0] === 'part one'),
      ['part one', 'part two'],
    );
    const split = txt.find((r) => r[0]?.startsWith('v=spf1 x'));
    assert.deepEqual(
      split?.map((s) => s.length),
      [255, 45],
    );
    assert.equal(split?.join(''), long);
  });
});

test('serves PTR records for resolvePtr and reverse()', async () => {
  await withServer(async (server, resolver) => {
    assert.equal(reverseName('192.0.2.1'), '1.2.0.192.in-addr.arpa');
    server.set(reverseName('192.0.2.1'), [{ type: 'PTR', target: 'mx1.example.test' }]);
    server.set(reverseName('2001:db8::1'), [{ type: 'PTR', target: 'mx6.example.test' }]);
    assert.deepEqual(await resolver.resolvePtr('1.2.0.192.in-addr.arpa'), ['mx1.example.test']);
    assert.deepEqual(await resolver.reverse('192.0.2.1'), ['mx1.example.test']);
    assert.deepEqual(await resolver.reverse('2001:db8::1'), ['mx6.example.test']);
  });
});

test('matches names case-insensitively, with or without a trailing dot', async () => {
  await withServer(async (server, resolver) => {
    server.set('Mixed.Example.TEST.', [{ type: 'A', address: '127.0.0.5' }]);
    assert.deepEqual(await resolver.resolve4('mixed.example.test'), ['127.0.0.5']);
    assert.deepEqual(await resolver.resolve4('MIXED.example.test.'), ['127.0.0.5']);
  });
});

test('answers NXDOMAIN for unknown names and nxdomain(): ENOTFOUND', async () => {
  await withServer(async (server, resolver) => {
    await rejectsWithCode(resolver.resolveMx('unknown.example.test'), 'ENOTFOUND');
    server.set('gone.example.test', [{ type: 'A', address: '127.0.0.5' }]);
    server.nxdomain('gone.example.test');
    await rejectsWithCode(resolver.resolve4('gone.example.test'), 'ENOTFOUND');
    await rejectsWithCode(resolver.resolveTxt('gone.example.test'), 'ENOTFOUND');
  });
});

test('answers NOERROR with no records for a type the name lacks: ENODATA', async () => {
  await withServer(async (server, resolver) => {
    server.set('a-only.example.test', [{ type: 'A', address: '127.0.0.5' }]);
    server.set('empty.example.test', []);
    await rejectsWithCode(resolver.resolveMx('a-only.example.test'), 'ENODATA');
    await rejectsWithCode(resolver.resolve4('empty.example.test'), 'ENODATA');
  });
});

test('servfail() gives ESERVFAIL and rcode() any other code', async () => {
  await withServer(async (server, resolver) => {
    server.servfail('broken.example.test');
    await rejectsWithCode(resolver.resolveMx('broken.example.test'), 'ESERVFAIL');
    server.rcode('refused.example.test', 5);
    await rejectsWithCode(resolver.resolveMx('refused.example.test'), 'EREFUSED');
  });
});

test('silence() never answers, so the client times out', async () => {
  await withServer(async (server) => {
    server.silence('slow.example.test');
    const resolver = resolverFor(server, { timeout: 200, tries: 1 });
    const started = Date.now();
    await rejectsWithCode(resolver.resolveMx('slow.example.test'), 'ETIMEOUT');
    assert.ok(Date.now() - started >= 150, 'gave up before the timeout');
    assert.ok(server.queries.some((q) => q.name === 'slow.example.test'));
  });
});

test('zone changes apply to the next query and clear() forgets names', async () => {
  await withServer(async (server, resolver) => {
    server.set('flip.example.test', [{ type: 'A', address: '127.0.0.5' }]);
    assert.deepEqual(await resolver.resolve4('flip.example.test'), ['127.0.0.5']);
    server.set('flip.example.test', [{ type: 'A', address: '127.0.0.6' }]);
    assert.deepEqual(await resolver.resolve4('flip.example.test'), ['127.0.0.6']);
    server.clear('flip.example.test');
    await rejectsWithCode(resolver.resolve4('flip.example.test'), 'ENOTFOUND');
  });
});

test('logs every query with its name, type and transport', async () => {
  await withServer(async (server, resolver) => {
    server.set('log.example.test', [{ type: 'MX', exchange: 'mx.log.example.test', priority: 5 }]);
    await resolver.resolveMx('LOG.example.test');
    await rejectsWithCode(resolver.resolve4('log.example.test'), 'ENODATA');
    assert.deepEqual(server.queries, [
      { name: 'log.example.test', type: 'MX', transport: 'udp' },
      { name: 'log.example.test', type: 'A', transport: 'udp' },
    ]);
    server.clear();
    assert.deepEqual(server.queries, []);
  });
});

test('answers over TCP on the same port', async () => {
  await withServer(async (server) => {
    server.set('tcp.example.test', [{ type: 'MX', exchange: 'mx.tcp.example.test', priority: 3, ttl: 9 }]);
    const response = await queryTcp(server, 'tcp.example.test', 'MX');
    assert.equal(response.header.id, 4242);
    assert.equal(response.header.rcode, Packet.RCODE.NOERROR);
    assert.deepEqual(
      response.answers.map((a) => [a.exchange, a.priority, a.ttl]),
      [['mx.tcp.example.test', 3, 9]],
    );
    const missing = await queryTcp(server, 'nothing.example.test', 'A');
    assert.equal(missing.header.rcode, Packet.RCODE.NXDOMAIN);
    assert.deepEqual(
      server.queries.map((q) => q.transport),
      ['tcp', 'tcp'],
    );
  });
});

test('answers too large for UDP are truncated and the resolver retries over TCP', async () => {
  await withServer(async (server, resolver) => {
    const records = Array.from({ length: 20 }, (_, i) => ({
      type: 'TXT' as const,
      data: `record-${i} `.padEnd(200, 'y'),
    }));
    server.set('big.example.test', records);
    const txt = await resolver.resolveTxt('big.example.test');
    assert.equal(txt.length, 20);
    assert.deepEqual(
      server.queries.map((q) => q.transport),
      ['udp', 'tcp'],
    );
  });
});

test('rejects malformed records when they are set', async () => {
  await withServer(async (server) => {
    assert.throws(() => server.set('bad.example.test', [{ type: 'A', address: '::1' }]), /Invalid A record/);
    assert.throws(
      () => server.set('bad.example.test', [{ type: 'AAAA', address: '1.2.3.4' }]),
      /Invalid AAAA/,
    );
    assert.throws(() => server.rcode('bad.example.test', 16), /Invalid rcode/);
  });
});

test('close() frees the port even with an idle TCP connection open', async () => {
  const server = await startDnsServer();
  const socket = connect({ host: server.host, port: server.port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.on('error', () => {});
  await Promise.all([server.close(), server.close()]);
  await closed;
  const again = await startDnsServer({ port: server.port });
  assert.equal(again.port, server.port);
  await again.close();
});
