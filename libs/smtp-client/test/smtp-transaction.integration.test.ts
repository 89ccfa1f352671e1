import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { classify } from '@outpost/core';
import { type SmtpReceiver, type SmtpScript, startSmtpReceiver } from '@outpost/testing';
import { RFC5321_REPLY_TIMEOUTS, runSmtpTransaction, type SmtpTransactionOptions } from '../src/index.ts';

const receivers: SmtpReceiver[] = [];
after(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});

async function receiver(script: SmtpScript = {}, host = '127.0.0.2') {
  const started = await startSmtpReceiver({ host, script, name: 'mx.dest.test' });
  receivers.push(started);
  return started;
}

const BODY = Buffer.from('Subject: test\r\nMessage-ID: <t@x>\r\n\r\nHello.\r\n');

function options(
  target: SmtpReceiver,
  overrides: Partial<SmtpTransactionOptions> = {},
): SmtpTransactionOptions {
  return {
    address: target.host,
    port: target.port,
    mxHost: 'mx.dest.test',
    heloName: 'outpost.test',
    tls: 'opportunistic',
    timeouts: { connectMs: 1_000, greetingMs: 500, commandMs: 1_000 },
    sender: 'alice@example.com',
    recipients: ['bob@dest.test', 'carol@dest.test', 'dave@dest.test'],
    body: BODY,
    ...overrides,
  };
}

const verdicts = (result: Awaited<ReturnType<typeof runSmtpTransaction>>) =>
  Object.fromEntries(result.recipients.map(({ address, event }) => [address, classify(event).verdict]));

test('delivers to every recipient, with a transcript of commands and replies but no body', async () => {
  const target = await receiver();
  const result = await runSmtpTransaction(options(target));
  assert.equal(result.greeted, true);
  assert.deepEqual(verdicts(result), {
    'bob@dest.test': 'delivered',
    'carol@dest.test': 'delivered',
    'dave@dest.test': 'delivered',
  });
  const [message] = await target.waitForMessages(1);
  assert.deepEqual(message!.to, ['bob@dest.test', 'carol@dest.test', 'dave@dest.test']);
  assert.equal(message!.data.toString(), BODY.toString());
  const text = result.transcript.map((line) => `${line.direction} ${line.text}`).join('\n');
  assert.match(text, /^C MAIL FROM:<alice@example\.com>/m);
  assert.match(text, /^S 250/m);
  assert.doesNotMatch(text, /Hello\./, 'the body is not in the transcript');
});

test('one recipient refused at RCPT keeps its own reply; the others are delivered', async () => {
  const target = await receiver({
    rcpt: (ctx) => (ctx.address === 'carol@dest.test' ? '553 5.1.1 No such user here' : undefined),
  });
  const result = await runSmtpTransaction(options(target));
  assert.deepEqual(verdicts(result), {
    'bob@dest.test': 'delivered',
    'carol@dest.test': 'bounced',
    'dave@dest.test': 'delivered',
  });
  const carol = result.recipients.find((recipient) => recipient.address === 'carol@dest.test')!;
  assert.deepEqual(classify(carol.event).category, 'no_such_user');
});

test('LMTP: each recipient keeps its own reply after the message, the last one failing included', async () => {
  const replies: Record<string, string> = { 'dave@dest.test': '452 4.2.2 mailbox full' };
  const target = await startSmtpReceiver({
    host: '127.0.0.2',
    name: 'lmtp.dest.test',
    lmtp: { replyTo: (recipient) => replies[recipient] },
  });
  receivers.push(target);
  const result = await runSmtpTransaction(options(target, { lmtp: true }));
  // The last recipient's 452 is nodemailer's `response`: it must not become the others' answer.
  assert.deepEqual(verdicts(result), {
    'bob@dest.test': 'delivered',
    'carol@dest.test': 'delivered',
    'dave@dest.test': 'deferred',
  });
  const dave = result.recipients.find((entry) => entry.address === 'dave@dest.test')!.event;
  assert.equal(dave.kind === 'reply' && dave.reply.code, 452);
  assert.deepEqual(target.messages[0]?.to, ['bob@dest.test', 'carol@dest.test', 'dave@dest.test']);
});

test('450 at MAIL defers everyone', async () => {
  const target = await receiver({ mail: '450 4.5.0 Mail system is Busy' });
  const result = await runSmtpTransaction(options(target));
  assert.deepEqual(new Set(Object.values(verdicts(result))), new Set(['deferred']));
  assert.equal(classify(result.recipients[0]!.event).category, 'busy_try_later');
});

test('554 after DATA bounces the recipients that were accepted', async () => {
  const target = await receiver({ data: '554 5.7.1 Message rejected as spam' });
  const result = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'] }));
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'reply' && event.stage, 'end-of-data');
  assert.equal(classify(event).verdict, 'bounced');
  assert.equal(classify(event).category, 'content_rejected');
});

test('connection refused, closed before banner, and a banner that never comes: try the next address', async () => {
  const closed = await receiver({ connect: { action: 'close-before-banner' } }, '127.0.0.3');
  const silent = await receiver({ connect: { action: 'hang' } }, '127.0.0.4');
  const refused = await runSmtpTransaction(options(closed, { port: 1 }));
  const cases = [
    [refused, 'connection_refused_or_timeout'],
    [await runSmtpTransaction(options(closed)), 'no_greeting'],
    [await runSmtpTransaction(options(silent)), 'no_greeting'],
  ] as const;
  for (const [result, category] of cases) {
    assert.equal(result.greeted, false);
    const classification = classify(result.recipients[0]!.event);
    assert.equal(classification.next, 'next-address', JSON.stringify(result.recipients[0]!.event));
    assert.equal(classification.category, category);
  }
});

test('421 at the greeting: next address', async () => {
  const target = await receiver({ connect: '421 4.3.2 Too busy, try later' });
  const result = await runSmtpTransaction(options(target));
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'reply' && event.stage, 'greeting');
  assert.equal(classify(event).next, 'next-address');
});

test('connection lost after the final dot: deferred and flagged as a possible duplicate', async () => {
  const target = await receiver({ data: { action: 'accept-then-disconnect' } });
  const result = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'] }));
  const classification = classify(result.recipients[0]!.event);
  assert.equal(classification.verdict, 'deferred');
  assert.equal(classification.possibleDuplicate, true);
  assert.equal(target.messages.length, 1, 'the receiver did store it');
});

test('reset in the middle of DATA is not a possible duplicate', async () => {
  const target = await receiver({ data: { action: 'disconnect' } });
  const result = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'] }));
  const classification = classify(result.recipients[0]!.event);
  assert.equal(classification.verdict, 'deferred');
  assert.equal(classification.possibleDuplicate, undefined);
});

test('the null sender is sent as MAIL FROM:<>', async () => {
  const target = await receiver();
  await runSmtpTransaction(options(target, { sender: '', recipients: ['bob@dest.test'] }));
  const [message] = await target.waitForMessages(1);
  assert.equal(message!.from, '');
});

test('an internationalized address to a server without SMTPUTF8 bounces with 5.6.7 before MAIL', async () => {
  const target = await receiver({}, '127.0.0.5');
  // smtp-server offers SMTPUTF8 by default, so this checks the positive case first.
  const offered = await runSmtpTransaction(options(target, { recipients: ['jörg@dest.test'] }));
  assert.equal(classify(offered.recipients[0]!.event).verdict, 'delivered');
  const { createServer } = await import('node:net');
  // A minimal server whose EHLO lists no SMTPUTF8.
  const plain = createServer((socket) => {
    socket.write('220 plain.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      const line = chunk.toString();
      if (/^EHLO/i.test(line)) socket.write('250-plain.test\r\n250 8BITMIME\r\n');
      else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
      else socket.write('250 ok\r\n');
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.6', resolve));
  try {
    const port = (plain.address() as { port: number }).port;
    const result = await runSmtpTransaction({
      ...options(target),
      address: '127.0.0.6',
      port,
      recipients: ['jörg@dest.test'],
    });
    const classification = classify(result.recipients[0]!.event);
    assert.equal(classification.verdict, 'bounced');
    assert.equal(classification.status, '5.6.7');
    assert.doesNotMatch(
      result.transcript.map((line) => line.text).join('\n'),
      /MAIL FROM/,
      'nothing was attempted',
    );
  } finally {
    await new Promise((resolve) => plain.close(resolve));
  }
});

test('a DATA command refused after a RCPT refusal: that recipient keeps its own 5xx, the others get the DATA reply', async () => {
  const target = await receiver({}, '127.0.0.5');
  const { createServer } = await import('node:net');
  // No PIPELINING: each command waits for its reply, and the DATA command itself is refused.
  const server = createServer((socket) => {
    socket.write('220 raw.test ESMTP\r\n');
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString();
      for (let end = pending.indexOf('\r\n'); end !== -1; end = pending.indexOf('\r\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        if (/^EHLO/i.test(line)) socket.write('250-raw.test\r\n250 8BITMIME\r\n');
        else if (/^RCPT TO:<carol@/i.test(line)) socket.write('550 5.1.1 no such user\r\n');
        else if (/^DATA/i.test(line)) socket.write('451 4.3.0 try again later\r\n');
        else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.6', resolve));
  try {
    const port = (server.address() as { port: number }).port;
    const result = await runSmtpTransaction({ ...options(target), address: '127.0.0.6', port });
    assert.deepEqual(verdicts(result), {
      'bob@dest.test': 'deferred',
      'carol@dest.test': 'bounced',
      'dave@dest.test': 'deferred',
    });
    const carol = result.recipients.find((entry) => entry.address === 'carol@dest.test')!.event;
    assert.equal(carol.kind === 'reply' && carol.reply.code, 550, 'its own RCPT reply, not the DATA one');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a message larger than the SIZE the server announces bounces with 5.3.4 without sending it', async () => {
  const small = await startSmtpReceiver({ host: '127.0.0.7', name: 'small.test' });
  receivers.push(small);
  // nodemailer compares the message size with the SIZE the server announces (RFC 1870).
  const { createServer } = await import('node:net');
  const sized = createServer((socket) => {
    socket.write('220 limit.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      const line = chunk.toString();
      if (/^EHLO/i.test(line))
        // (A host name starting with "size" would confuse nodemailer's SIZE detection.)
        socket.write('250-limit.test\r\n250 SIZE 10\r\n');
      else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
      else socket.write('250 ok\r\n');
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => sized.listen(0, '127.0.0.7', resolve));
  try {
    const port = (sized.address() as { port: number }).port;
    const result = await runSmtpTransaction({
      ...options(small),
      address: '127.0.0.7',
      port,
      recipients: ['bob@dest.test'],
    });
    const classification = classify(result.recipients[0]!.event);
    assert.equal(classification.verdict, 'bounced');
    assert.equal(classification.status, '5.3.4');
    assert.equal(classification.category, 'message_too_large');
  } finally {
    await new Promise((resolve) => sized.close(resolve));
  }
});

test('a kept connection carries the next transaction at once after a delivered one: one session, two messages', async () => {
  const target = await receiver({}, '127.0.0.8');
  const first = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'], keepOpen: true }));
  assert.ok(first.channel, 'the healthy connection is handed back');
  const second = await runSmtpTransaction(
    options(target, { recipients: ['carol@dest.test'], reuse: first.channel, keepOpen: false }),
  );
  assert.equal(classify(second.recipients[0]!.event).verdict, 'delivered');
  assert.equal(second.channel, undefined, 'closed when not asked to keep it');
  const text = second.transcript.map((line) => line.text).join('\n');
  // RFC 5321 §4.1.1.4: the reply to the final dot cleared the server's state; no RSET needed.
  assert.match(text, /reusing the connection[^\n]*\nMAIL FROM/);
  assert.doesNotMatch(text, /RSET/);
  await target.waitForMessages(2);
  assert.equal(target.sessions, 1);
});

test('a kept connection whose last transaction was refused is reset before the next (RFC 5321 §4.1.1.5)', async () => {
  const target = await receiver(
    { rcpt: ({ address }) => (address === 'nobody@dest.test' ? '550 5.1.1 no such user' : undefined) },
    '127.0.0.12',
  );
  const refused = await runSmtpTransaction(
    options(target, { recipients: ['nobody@dest.test'], keepOpen: true }),
  );
  assert.equal(classify(refused.recipients[0]!.event).verdict, 'bounced');
  assert.ok(refused.channel, 'a refusal leaves the connection usable');
  const next = await runSmtpTransaction(
    options(target, { recipients: ['carol@dest.test'], reuse: refused.channel }),
  );
  assert.equal(classify(next.recipients[0]!.event).verdict, 'delivered');
  assert.match(next.transcript.map((line) => line.text).join('\n'), /reusing the connection[^\n]*\nRSET/);
  assert.equal(target.sessions, 1);
});

test('a kept connection the server drops at the next MAIL: the message goes out on a new one', async () => {
  const target = await receiver({}, '127.0.0.13');
  const first = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'], keepOpen: true }));
  assert.ok(first.channel);
  target.script = { mail: ({ session }) => (session === 1 ? { action: 'disconnect' } : undefined) };
  const second = await runSmtpTransaction(
    options(target, { recipients: ['carol@dest.test'], reuse: first.channel }),
  );
  assert.equal(classify(second.recipients[0]!.event).verdict, 'delivered');
  const text = second.transcript.map((line) => line.text).join('\n');
  assert.match(
    text,
    /reusing the connection[\s\S]*the kept connection is gone; connecting again[\s\S]*connecting to/,
  );
  const messages = await target.waitForMessages(2);
  assert.deepEqual(
    messages.map((message) => [message.session, message.to.join()]),
    [
      [1, 'bob@dest.test'],
      [2, 'carol@dest.test'],
    ],
  );
});

test('a kept connection the server has dropped is replaced by a new one', async () => {
  const target = await receiver({}, '127.0.0.9');
  const first = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'], keepOpen: true }));
  assert.ok(first.channel);
  await target.close();
  const again = await receiver({}, '127.0.0.9');
  const second = await runSmtpTransaction({
    ...options(again),
    recipients: ['carol@dest.test'],
    reuse: first.channel,
  });
  assert.equal(classify(second.recipients[0]!.event).verdict, 'delivered');
  assert.match(second.transcript.map((line) => line.text).join('\n'), /connecting again/);
  assert.equal(again.sessions, 1);
});

test('a connection that ended with a network failure or 421 is not kept', async () => {
  const target = await receiver({ data: { action: 'disconnect' } }, '127.0.0.10');
  const result = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'], keepOpen: true }));
  assert.equal(result.channel, undefined);
});

test('a RCPT reply slower than the RCPT timeout ends the session as a timeout (RFC 5321 §4.5.3.2.3)', async () => {
  const target = await receiver({ rcpt: { delayMs: 3_000 } }, '127.0.0.11');
  const started = Date.now();
  const result = await runSmtpTransaction(
    options(target, {
      recipients: ['bob@dest.test'],
      replyTimeouts: {
        ...RFC5321_REPLY_TIMEOUTS,
        mailMs: 5_000,
        rcptMs: 300,
        dataMs: 5_000,
        endOfDataMs: 5_000,
      },
    }),
  );
  const event = result.recipients[0]!.event;
  assert.equal(event.kind === 'network' && event.failure, 'timeout', JSON.stringify(event));
  assert.equal(classify(event).verdict, 'deferred');
  assert.ok(Date.now() - started < 2_500, 'it did not wait for the slow reply');
  assert.match(result.transcript.map((line) => line.text).join('\n'), /no reply to RCPT within 300 ms/);
});

test('an end-of-data reply slower than its timeout is a possible duplicate (RFC 1047)', async () => {
  const target = await receiver({ data: { delayMs: 3_000 } }, '127.0.0.12');
  const result = await runSmtpTransaction(
    options(target, {
      recipients: ['bob@dest.test'],
      replyTimeouts: {
        ...RFC5321_REPLY_TIMEOUTS,
        mailMs: 5_000,
        rcptMs: 5_000,
        dataMs: 5_000,
        endOfDataMs: 300,
      },
    }),
  );
  const classification = classify(result.recipients[0]!.event);
  assert.equal(classification.verdict, 'deferred');
  assert.equal(classification.possibleDuplicate, true);
});

test('BODY=8BITMIME (RFC 6152) is declared for a body with 8-bit bytes, and only then', async () => {
  const target = await receiver({}, '127.0.0.7');
  const mailLine = async (body: Buffer) => {
    const result = await runSmtpTransaction(options(target, { recipients: ['bob@dest.test'], body }));
    assert.equal(classify(result.recipients[0]!.event).verdict, 'delivered');
    return result.transcript.find((line) => line.direction === 'C' && /^MAIL FROM/.test(line.text))?.text;
  };
  const eightBit = Buffer.concat([BODY, Buffer.from([0xe9, 0x74, 0xe9, 0x0d, 0x0a])]);
  assert.match((await mailLine(eightBit)) ?? '', /BODY=8BITMIME/);
  assert.doesNotMatch((await mailLine(BODY)) ?? '', /BODY=/);
  const [, last] = await target.waitForMessages(2);
  assert.ok(last!.data.equals(BODY));
});
