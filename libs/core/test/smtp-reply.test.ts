import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSmtpReply, INGEST_REPLIES, isPermanent, isTransient, parseSmtpReply } from '../src/index.ts';

test('parses code, enhanced status and text', () => {
  assert.deepEqual(parseSmtpReply('550 5.1.1 No such user'), {
    code: 550,
    enhanced: '5.1.1',
    text: 'No such user',
  });
  assert.deepEqual(parseSmtpReply('421 Service not available'), { code: 421, text: 'Service not available' });
  assert.deepEqual(parseSmtpReply('250-first\r\n250 2.0.0 second'), { code: 250, text: 'first second' });
  assert.equal(parseSmtpReply('hello'), undefined);
  assert.equal(parseSmtpReply('650 nope'), undefined);
});

test('4xx is transient and 5xx permanent (RFC 5321 §4.2.1)', () => {
  const busy = parseSmtpReply('450 4.5.0 Mail system is Busy')!;
  const unknown = parseSmtpReply('553 5.3.2 <x@example>... No such user here')!;
  assert.equal(isTransient(busy), true);
  assert.equal(isPermanent(busy), false);
  assert.equal(isPermanent(unknown), true);
  assert.equal(isTransient(unknown), false);
});

test('every ingest reply has a code whose class matches its enhanced status', () => {
  for (const [name, reply] of Object.entries(INGEST_REPLIES)) {
    assert.equal(String(reply.code)[0], reply.enhanced[0], name);
    assert.equal(parseSmtpReply(formatSmtpReply(reply))?.enhanced, reply.enhanced, name);
  }
});
