import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPausedDomains } from '../src/paused-domains.ts';

test('a noted pause holds for its domain and destination until its end, then is forgotten', () => {
  const pauses = createPausedDomains();
  pauses.note('a.test', 'mx.shared:25', 1_000);
  assert.deepEqual(pauses.get('a.test', 999), { destination: 'mx.shared:25', until: 1_000 });
  assert.equal(pauses.isPaused('mx.shared:25', 999), true);
  assert.equal(pauses.get('b.test', 999), undefined, 'another domain on the same MX is not known yet');
  assert.equal(pauses.get('a.test', 1_000), undefined, 'over at its end');
  assert.equal(pauses.isPaused('mx.shared:25', 1_000), false);
});

test('forget drops the domain and its destination (Redis said the pause is over)', () => {
  const pauses = createPausedDomains();
  pauses.note('a.test', 'mx.a:25', 5_000);
  pauses.forget('a.test');
  assert.equal(pauses.get('a.test', 0), undefined);
  assert.equal(pauses.isPaused('mx.a:25', 0), false);
});

test('bounded: past the limit the oldest note goes', () => {
  const pauses = createPausedDomains(2);
  pauses.note('a.test', 'mx.a:25', 5_000);
  pauses.note('b.test', 'mx.b:25', 5_000);
  pauses.note('c.test', 'mx.c:25', 5_000);
  assert.equal(pauses.get('a.test', 0), undefined);
  assert.ok(pauses.get('b.test', 0));
  assert.ok(pauses.get('c.test', 0));
});
