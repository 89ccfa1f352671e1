import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { classify } from '@outpost/core';
import { type SmtpReceiver, startSmtpReceiver } from '@outpost/testing';
import { runSmtpTransaction, type SmtpTransactionOptions } from '../src/index.ts';

// The hook before the final dot: delivery records "sent" there, so that a run lost after the dot
// can be told from one lost before it. The dot must wait for the hook, and a failed hook must mean
// no dot at all (the receiver keeps nothing).

const receivers: SmtpReceiver[] = [];
after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver() {
  const started = await startSmtpReceiver({ host: '127.0.0.2', name: 'mx.dest.test' });
  receivers.push(started);
  return started;
}

// 300 KB, more than a stream buffers at once, with lines that need dot-stuffing (RFC 5321 §4.5.2).
const BODY = Buffer.from(
  `Subject: big\r\nMessage-ID: <big@x>\r\n\r\n${Array.from({ length: 6_000 }, (_, i) => `.line ${i} ${'x'.repeat(40)}`).join('\r\n')}\r\n`,
);

function options(target: SmtpReceiver, beforeFinalDot: SmtpTransactionOptions['beforeFinalDot']) {
  return {
    address: target.host,
    port: target.port,
    mxHost: 'mx.dest.test',
    heloName: 'outpost.test',
    tls: 'none' as const,
    timeouts: { connectMs: 1_000, greetingMs: 1_000, commandMs: 2_000 },
    sender: 'alice@example.com',
    recipients: ['bob@dest.test', 'carol@dest.test'],
    body: BODY,
    keepOpen: true,
    ...(beforeFinalDot && { beforeFinalDot }),
  } satisfies SmtpTransactionOptions;
}

test('the final dot waits for the hook; then the message arrives whole', async () => {
  const target = await receiver();
  const calls: string[][] = [];
  let messagesWhenCalled = -1;
  const result = await runSmtpTransaction(
    options(target, async (recipients) => {
      calls.push([...recipients]);
      messagesWhenCalled = target.messages.length;
      // Long enough that a dot sent without waiting would already have been answered.
      await sleep(300);
      assert.equal(target.messages.length, 0, 'the receiver has no message while the hook runs');
    }),
  );
  assert.deepEqual(calls, [['bob@dest.test', 'carol@dest.test']], 'called once, with the recipients');
  assert.equal(messagesWhenCalled, 0);
  assert.deepEqual(
    result.recipients.map(({ event }) => classify(event).verdict),
    ['delivered', 'delivered'],
  );
  const [message] = await target.waitForMessages(1);
  assert.ok(message!.data.equals(BODY), 'the body arrives byte for byte (dot-stuffing undone)');
  result.channel?.close();
});

test('a failed hook withholds the dot: nothing delivered, a local 451, the connection closed', async () => {
  const target = await receiver();
  const result = await runSmtpTransaction(
    options(target, async () => {
      throw new Error('Redis did not record the send within 5000 ms');
    }),
  );
  for (const { event } of result.recipients) {
    assert.equal(event.kind, 'reply');
    if (event.kind !== 'reply') continue;
    assert.equal(event.reply.code, 451);
    assert.equal(event.reply.enhanced, '4.3.0');
    assert.match(event.reply.text, /final dot withheld: Redis did not record/);
    const verdict = classify(event);
    assert.equal(verdict.verdict, 'deferred');
    assert.notEqual(verdict.possibleDuplicate, true, 'the dot never went out: no duplicate is possible');
  }
  assert.equal(result.channel, undefined, 'a session stuck mid-DATA is not kept');
  assert.ok(result.transcript.some((line) => /final dot withheld/.test(line.text)));
  await sleep(300);
  assert.equal(target.messages.length, 0, 'the receiver kept nothing');
});

test('the body is held with the dot: both leave in one write once the hook is done', async () => {
  const target = await receiver();
  // What the client hands the kernel for the receiver's connection, write call by write call.
  const writes: string[][] = [];
  const socketProto = Socket.prototype as unknown as {
    _write: (chunk: Buffer, ...rest: unknown[]) => void;
    _writev: (chunks: { chunk: Buffer }[], ...rest: unknown[]) => void;
  };
  const { _write: write, _writev: writev } = socketProto;
  const toTarget = (socket: Socket) => socket.remotePort === target.port;
  socketProto._write = function (this: Socket, chunk, ...rest) {
    if (toTarget(this)) writes.push([chunk.toString('latin1')]);
    return write.call(this, chunk, ...rest);
  };
  socketProto._writev = function (this: Socket, chunks, ...rest) {
    if (toTarget(this)) writes.push(chunks.map(({ chunk }) => chunk.toString('latin1')));
    return writev.call(this, chunks, ...rest);
  };
  let writesWhileHookRan = -1;
  try {
    const body = Buffer.from('Subject: small\r\nMessage-ID: <small@x>\r\n\r\nHello.\r\n');
    const result = await runSmtpTransaction({
      ...options(target, async () => {
        writesWhileHookRan = writes.length;
        await sleep(50);
        assert.equal(writes.length, writesWhileHookRan, 'nothing is written while the hook runs');
      }),
      body,
    });
    result.channel?.close();
    const bodyWrites = writes.filter((chunks) => chunks.some((text) => text.includes('Subject: small')));
    assert.deepEqual(bodyWrites, [[body.toString('latin1'), '.\r\n']], 'body and dot in one writev');
    assert.ok(
      writes.slice(0, writesWhileHookRan).every((chunks) => !chunks.join('').includes('Subject: small')),
      'no body byte before the hook',
    );
  } finally {
    socketProto._write = write;
    socketProto._writev = writev;
  }
  const [message] = await target.waitForMessages(1);
  assert.match(message!.data.toString(), /^Subject: small/);
});
