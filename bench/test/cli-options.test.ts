import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nonNegativeInteger, positiveInteger, UsageError } from '../src/cli-options.ts';

test('--warm-up and the like take 0 and up; --runs and the like 1 and up', () => {
  assert.equal(nonNegativeInteger(undefined, 7, 'warm-up'), 7);
  assert.equal(nonNegativeInteger('0', 7, 'warm-up'), 0);
  assert.equal(nonNegativeInteger('500', 7, 'warm-up'), 500);
  for (const bad of ['-1', '1.5', 'ten', ''])
    assert.throws(() => nonNegativeInteger(bad, 7, 'warm-up'), UsageError, bad);
  assert.equal(positiveInteger('3', 1, 'runs'), 3);
  assert.throws(() => positiveInteger('0', 1, 'runs'), UsageError);
});
