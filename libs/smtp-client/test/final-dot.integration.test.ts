import assert from 'node:assert/strict';
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
