import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMessageId, messageIdTime, newMessageId } from '../src/index.ts';

test('message ids are UUIDv7 carrying their creation time', () => {
  const id = newMessageId(1_790_000_000_123, Buffer.alloc(10, 0xff));
  assert.ok(isMessageId(id), id);
  assert.equal(messageIdTime(id), 1_790_000_000_123);
  assert.equal(id[14], '7');
  assert.match(id[19]!, /[89ab]/);
});

test('ids sort by time as strings', () => {
  const earlier = newMessageId(1_000_000, Buffer.alloc(10, 0xff));
  const later = newMessageId(1_000_001, Buffer.alloc(10, 0x00));
  assert.ok(earlier < later);
});

test('a random UUIDv4 is not a message id', () => {
  assert.equal(isMessageId('3b241101-e2bb-4255-8caf-4136c566a962'), false);
});

test('ids from the pooled randomness stay unique and valid across pool refills', () => {
  // 409 ids use up one 4 KB pool: 2,000 cross several refills, all in the same millisecond.
  const ids = Array.from({ length: 2_000 }, () => newMessageId(1_790_000_000_000));
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.every(isMessageId));
  assert.equal(new Set(ids.map((id) => id.slice(15))).size, ids.length, 'the random part differs');
});
