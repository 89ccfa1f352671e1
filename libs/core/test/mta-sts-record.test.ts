import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStsRecords } from '../src/index.ts';

test('a valid record gives its id; strings of one record are joined without spaces (§3.1)', () => {
  assert.deepEqual(parseStsRecords([['v=STSv1; id=20260101T000000;']]), {
    kind: 'found',
    id: '20260101T000000',
  });
  assert.deepEqual(parseStsRecords([['v=STSv1; id=2026', '0101']]), { kind: 'found', id: '20260101' });
  assert.deepEqual(parseStsRecords(['v=STSv1;id=abc']), { kind: 'found', id: 'abc' });
  assert.deepEqual(parseStsRecords(['v=STSv1 ;\tid=abc ; ext=value;']), { kind: 'found', id: 'abc' });
});

test('records that do not begin with v=STSv1; are ignored; none left means no policy', () => {
  assert.deepEqual(parseStsRecords([['v=spf1 -all'], ['v=STSv1; id=one']]), { kind: 'found', id: 'one' });
  assert.deepEqual(parseStsRecords([]), { kind: 'absent', reason: 'no-record' });
  assert.deepEqual(parseStsRecords(['id=x; v=STSv1;']), { kind: 'absent', reason: 'no-record' });
  // The version is case-sensitive (%s"v=STSv1").
  assert.deepEqual(parseStsRecords(['v=stsv1; id=x']), { kind: 'absent', reason: 'no-record' });
});

test('more than one STSv1 record: no policy', () => {
  const result = parseStsRecords(['v=STSv1; id=one', 'v=STSv1; id=two']);
  assert.equal(result.kind, 'absent');
  assert.equal(result.kind === 'absent' && result.reason, 'several-records');
});

test('syntax errors make the record invalid: bad id, empty field, missing id, bad extension', () => {
  for (const record of [
    'v=STSv1; id=2026-01-01',
    'v=STSv1; id=',
    `v=STSv1; id=${'a'.repeat(33)}`,
    'v=STSv1;; id=abc',
    'v=STSv1; ext=1',
    'v=STSv1; id=abc; bad ext=1',
    'v=STSv1; id=abc; ext=a=b',
  ]) {
    const result = parseStsRecords([record]);
    assert.equal(result.kind === 'absent' && result.reason, 'invalid-record', record);
  }
});

test('a repeated id: the first counts', () => {
  assert.deepEqual(parseStsRecords(['v=STSv1; id=first; id=second']), { kind: 'found', id: 'first' });
});
