import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { type FaultPlan, type FaultProxy, startFaultProxy } from '../src/fault-proxy.ts';
import { submitMessage } from '../src/smtp-client.ts';
import { startSmtpReceiver } from '../src/smtp-receiver.ts';

/**
 * A line server: answers every line with `250 <line>`, "DATA" with 354, says `220 ready` first,
 * and keeps what it received per connection.
 */
let upstream: Server;
let upstreamPort: number;
const received: string[] = [];
before(async () => {
  upstream = createServer((socket) => {
    const index = received.push('') - 1;
    socket.on('error', () => {});
    socket.setEncoding('latin1');
    socket.write('220 ready\r\n');
    let pending = '';
    socket.on('data', (text: string) => {
      received[index] += text;
      pending += text;
      for (let end = pending.indexOf('\r\n'); end !== -1; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        socket.write(line === 'DATA' ? '354 go ahead\r\n' : `250 ${line}\r\n`);
      }
    });
  });
  upstreamPort = await new Promise<number>((resolve) =>
    upstream.listen(0, '127.0.0.1', () => resolve((upstream.address() as { port: number }).port)),
  );
});
after(async () => {
  await new Promise((resolve) => upstream.close(resolve));
});

/** A client that keeps every chunk it receives, and whether the connection was reset. */
async function dial(proxy: FaultProxy) {
  const socket: Socket = connect({ host: proxy.host, port: proxy.port });
  const chunks: string[] = [];
  let error: NodeJS.ErrnoException | undefined;
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => chunks.push(text));
  socket.on('error', (caught: NodeJS.ErrnoException) => {
    error = caught;
  });
  socket.on('close', () => {
    closed = true;
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const text = () => chunks.join('');
  return {
    socket,
    chunks,
    text,
    get error() {
      return error;
    },
    get closed() {
      return closed;
    },
    async until(predicate: () => boolean, what: string, timeoutMs = 3_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text())}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

async function withProxy(plan: FaultProxy['plan'], fn: (proxy: FaultProxy) => Promise<void>) {
  const proxy = await startFaultProxy({ upstream: { host: '127.0.0.1', port: upstreamPort }, plan });
  try {
    await fn(proxy);
  } finally {
    await proxy.close();
  }
}

test('without a plan every byte passes both ways, and is counted', async () => {
  await withProxy(undefined, async (proxy) => {
    const client = await dial(proxy);
    client.socket.write('HELO a\r\nNOOP\r\n');
    await client.until(() => client.text().includes('250 NOOP\r\n'), 'both replies');
    assert.equal(client.text(), '220 ready\r\n250 HELO a\r\n250 NOOP\r\n');
    assert.equal(proxy.forwarded(1, 'toServer'), 14);
    assert.equal(proxy.forwarded(1, 'toClient'), client.text().length);
    client.socket.destroy();
  });
});

test('reset after N bytes: the server gets exactly N, the client a reset', async () => {
  await withProxy({ toServer: { trigger: { afterBytes: 5 }, action: { kind: 'reset' } } }, async (proxy) => {
    const client = await dial(proxy);
    await client.until(() => client.text().startsWith('220'), 'the banner');
    const index = received.length - 1;
    client.socket.write('HELO abcdefgh\r\n');
    await client.until(() => client.closed, 'the reset');
    assert.equal(client.error?.code, 'ECONNRESET');
    await proxy.waitForEvent((event) => event.kind === 'closed');
    assert.equal(received[index], 'HELO ');
    assert.equal(proxy.forwarded(1, 'toServer'), 5);
  });
});

test('hold, armed by the other side: replies after the armed point never arrive, and are reported', async () => {
  const plan: FaultPlan = { toClient: { trigger: { armedBy: 'LAST\r\n' }, action: { kind: 'hold' } } };
  await withProxy(plan, async (proxy) => {
    const client = await dial(proxy);
    client.socket.write('FIRST\r\n');
    await client.until(() => client.text().includes('250 FIRST'), 'the reply before arming');
    client.socket.write('LAST\r\n');
    const held = await proxy.waitForEvent((event) => event.kind === 'held');
    assert.equal(held.direction, 'toClient');
    assert.equal(held.detail, String('250 LAST\r\n'.length));
    assert.ok(!client.text().includes('LAST'), 'the reply to LAST is held');
    assert.ok(!client.closed, 'the connection stays open');
    client.socket.destroy();
  });
});

test('tarpit: the reply trickles in one byte at a time', async () => {
  await withProxy({ toClient: { action: { kind: 'tarpit', everyMs: 15 } } }, async (proxy) => {
    const client = await dial(proxy);
    await client.until(() => client.text() === '220 ready\r\n', 'the whole banner');
    // The kernel may coalesce two bytes that arrive close together, but never the whole reply.
    assert.ok(client.chunks.length > 1, `${client.chunks.length} chunk(s)`);
    assert.equal(proxy.forwarded(1, 'toClient'), '220 ready\r\n'.length);
    client.socket.destroy();
  });
});

test('inject: a line slipped in right after the reply to STARTTLS', async () => {
  const plan: FaultPlan = {
    toClient: {
      trigger: { armedBy: /STARTTLS\r\n/, afterPattern: /250 [^\r\n]*\r\n/ },
      action: { kind: 'inject', data: '250 injected\r\n' },
    },
  };
  await withProxy(plan, async (proxy) => {
    const client = await dial(proxy);
    client.socket.write('NOOP\r\n');
    await client.until(() => client.text().includes('250 NOOP'), 'the reply before arming');
    client.socket.write('STARTTLS\r\nNOOP\r\n');
    await client.until(() => client.text().split('\r\n').length >= 6, 'all replies');
    assert.deepEqual(client.text().split('\r\n').slice(1, 5), [
      '250 NOOP',
      '250 STARTTLS',
      '250 injected',
      '250 NOOP',
    ]);
    const fault = await proxy.waitForEvent((event) => event.kind === 'fault');
    assert.match(fault.detail, /^inject/);
    client.socket.destroy();
  });
});

test('delays: a late connection and late chunks, still in order', async () => {
  const plan: FaultPlan = { connectDelayMs: 100, toClient: { action: { kind: 'delay', ms: 30 } } };
  await withProxy(plan, async (proxy) => {
    const client = await dial(proxy);
    client.socket.write('A\r\nB\r\nC\r\n');
    await client.until(() => client.text().includes('250 C'), 'every reply');
    assert.equal(client.text(), '220 ready\r\n250 A\r\n250 B\r\n250 C\r\n');
    client.socket.destroy();
  });
});

test('a plan per connection: the first is closed at once, the second passes', async () => {
  const plan = (connection: number): FaultPlan | undefined =>
    connection === 1 ? { toClient: { action: { kind: 'close' } } } : undefined;
  await withProxy(plan, async (proxy) => {
    const first = await dial(proxy);
    await first.until(() => first.closed, 'the close');
    assert.equal(first.text(), '');
    assert.equal(first.error, undefined, 'an orderly close, not a reset');
    const second = await dial(proxy);
    await second.until(() => second.text().startsWith('220 ready'), 'the banner');
    second.socket.destroy();
    assert.equal(proxy.connections, 2);
  });
});

test('with a real SMTP server: a reset in the middle of DATA leaves it without a message', async () => {
  const receiver = await startSmtpReceiver({ host: '127.0.0.1' });
  const proxy = await startFaultProxy({
    upstream: { host: receiver.host, port: receiver.port },
    plan: (connection) =>
      connection === 1
        ? { toServer: { trigger: { armedBy: /^354 /m, afterBytes: 40 }, action: { kind: 'reset' } } }
        : undefined,
  });
  try {
    const message = `Subject: cut\r\n\r\n${'line of the body\r\n'.repeat(20)}`;
    const send = () =>
      submitMessage({ port: proxy.port, from: 'a@origin.test', to: ['b@dest.test'], message });
    await assert.rejects(send());
    await proxy.waitForEvent((event) => event.kind === 'closed' && event.connection === 1);
    assert.equal(receiver.messages.length, 0, 'nothing stored from the cut message');
    await send();
    assert.equal(receiver.messages.length, 1, 'the second connection passes');
  } finally {
    await proxy.close();
    await receiver.close();
  }
});

test('refuses to listen on, or forward to, a non-loopback address', async () => {
  await assert.rejects(startFaultProxy({ host: '0.0.0.0', upstream: { host: '127.0.0.1', port: 1 } }));
  await assert.rejects(startFaultProxy({ upstream: { host: '192.0.2.1', port: 25 } }));
});
