import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addHeaderFields,
  countHeaders,
  findHeader,
  headerBlockLength,
  parseHeaderFields,
} from '../src/index.ts';

const raw = Buffer.from(
  'Subject: hello\r\n  world\r\nFrom: a@example.com\r\nReceived: x\r\nreceived: y\r\n\r\nBody\r\n',
);

test('header fields are unfolded and found case-insensitively', () => {
  const fields = parseHeaderFields(raw);
  assert.equal(findHeader(fields, 'subject'), 'hello world');
  assert.equal(findHeader(fields, 'FROM'), 'a@example.com');
  assert.equal(countHeaders(fields, 'Received'), 2);
  assert.equal(findHeader(fields, 'Date'), undefined);
});

test('the header block ends before the empty line; a body-only message has none', () => {
  assert.equal(headerBlockLength(raw), raw.indexOf('\r\n\r\n') + 2);
  assert.equal(headerBlockLength(Buffer.from('\r\nbody only\r\n')), 0);
});

test('fields are prepended on top and appended at the end of the header block, body untouched', () => {
  const result = addHeaderFields(raw, ['Received: top'], ['Date: now']).toString();
  assert.ok(result.startsWith('Received: top\r\nSubject: hello\r\n'));
  assert.ok(result.endsWith('received: y\r\nDate: now\r\n\r\nBody\r\n'));
});

test('a message that is only a header block gets its fields and stays well formed', () => {
  const result = addHeaderFields(Buffer.from('Subject: x'), [], ['Date: now']).toString();
  assert.equal(result, 'Subject: x\r\nDate: now\r\n');
});

test('bytes outside ASCII survive unchanged', () => {
  const eightBit = Buffer.concat([
    Buffer.from('Subject: x\r\n\r\n'),
    Buffer.from([0xe2, 0x82, 0xac, 0xff]),
    Buffer.from('\r\n'),
  ]);
  const result = addHeaderFields(eightBit, ['X-A: 1'], []);
  assert.deepEqual(result.subarray(result.length - 6), Buffer.from([0xe2, 0x82, 0xac, 0xff, 0x0d, 0x0a]));
});
