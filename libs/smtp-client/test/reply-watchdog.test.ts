import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RFC5321_REPLY_TIMEOUTS, replyTimeoutFor } from '../src/reply-watchdog.ts';

test('every command that waits on a whole reply has a deadline; other lines fall back to inactivity', () => {
  const name = (line: string) => replyTimeoutFor(line, RFC5321_REPLY_TIMEOUTS)?.name;
  assert.equal(name('EHLO outpost.test'), 'EHLO');
  assert.equal(name('HELO outpost.test'), 'HELO');
  assert.equal(name('STARTTLS'), 'STARTTLS');
  assert.equal(name('MAIL FROM:<a@example.com>'), 'MAIL');
  assert.equal(name('RCPT TO:<b@example.org>'), 'RCPT');
  assert.equal(name('DATA'), 'DATA');
  assert.equal(name('<end of data>'), 'end of data');
  assert.equal(name('STAT'), undefined);
  assert.equal(name('QUIT'), undefined);
  assert.equal(replyTimeoutFor('EHLO x', RFC5321_REPLY_TIMEOUTS)?.ms, 300_000);
});
