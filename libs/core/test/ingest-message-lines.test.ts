import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageLineChecker, type MessageLineViolation } from '../src/index.ts';

/** Checks `text` split into two chunks at `split` (or in one piece), as DATA would arrive. */
function check(text: string, split?: number): MessageLineViolation | undefined {
  const bytes = Buffer.from(text, 'latin1');
  const checker = new MessageLineChecker();
  const parts = split === undefined ? [bytes] : [bytes.subarray(0, split), bytes.subarray(split)];
  for (const part of parts) checker.push(part);
  return checker.end();
}

/** The verdict is the same wherever a chunk boundary falls. */
function checkEverySplit(text: string): MessageLineViolation | undefined {
  const whole = check(text);
  for (let split = 0; split <= text.length; split++) {
    assert.equal(check(text, split), whole, `split at ${split} of ${JSON.stringify(text)}`);
  }
  return whole;
}

test('well-formed CRLF text passes, wherever the chunks break', () => {
  assert.equal(checkEverySplit('Subject: hi\r\n\r\nline one\r\n.. stuffed\r\n'), undefined);
  assert.equal(checkEverySplit(''), undefined);
});

test('each end-of-data look-alike of the smuggling family is caught, at every chunk boundary', () => {
  const expected: Array<[string, MessageLineViolation]> = [
    ['\n.\n', 'bareLineFeed'],
    ['\r.\r', 'bareCarriageReturn'],
    ['\r.\n', 'bareCarriageReturn'],
    ['\n.\r', 'bareLineFeed'],
    ['\n.\r\n', 'bareLineFeed'],
    ['\r\n.\n', 'bareLineFeed'],
    ['\r.\r\n', 'bareCarriageReturn'],
    ['\r\n.\r', 'bareCarriageReturn'],
    ['\r\n\x00.\r\n', 'nul'],
  ];
  for (const [lookAlike, violation] of expected) {
    assert.equal(checkEverySplit(`body${lookAlike}MAIL FROM:<x@example.com>\r\n`), violation, lookAlike);
  }
});

test('a CR at the very end of DATA never met its LF', () => {
  assert.equal(checkEverySplit('text\r'), 'bareCarriageReturn');
  assert.equal(checkEverySplit('\n'), 'bareLineFeed');
});

test('lines: 1000 octets with CRLF pass, 1001 do not (RFC 5321 §4.5.3.1.6)', () => {
  assert.equal(check(`${'a'.repeat(998)}\r\nshort\r\n`), undefined);
  assert.equal(check(`${'a'.repeat(999)}\r\n`), 'lineTooLong');
  assert.equal(check(`${'a'.repeat(998)}\r\n`, 500), undefined);
  assert.equal(check(`${'a'.repeat(999)}\r\n`, 998), 'lineTooLong');
  assert.equal(check(`${'a'.repeat(999)}\r\n`, 999), 'lineTooLong');
});

test('an over-long line is caught before it ends, and the first violation sticks', () => {
  const checker = new MessageLineChecker();
  assert.equal(checker.push(Buffer.alloc(600, 0x61)), undefined);
  assert.equal(checker.push(Buffer.alloc(600, 0x61)), 'lineTooLong');
  assert.equal(checker.push(Buffer.from('\n')), 'lineTooLong');
  assert.equal(checker.end(), 'lineTooLong');
});

test('a megabyte of well-formed lines is checked in a few milliseconds', () => {
  const chunk = Buffer.from(`${'x'.repeat(78)}\r\n`.repeat(13_000));
  const checker = new MessageLineChecker();
  const started = process.hrtime.bigint();
  assert.equal(checker.push(chunk), undefined);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 200, `${ms} ms`);
});
