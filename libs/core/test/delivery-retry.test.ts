import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRetry, retryDelayMs } from '../src/index.ts';

const MIN = 60_000;

test('the schedule as a whole: 5, 10, 20, 40, 60, 60 ... minutes without jitter', () => {
  const delays = Array.from({ length: 8 }, (_, i) => retryDelayMs(i + 1, 0.5) / MIN);
  assert.deepEqual(delays, [5, 10, 20, 40, 60, 60, 60, 60]);
});

test('jitter stays within ±20%', () => {
  assert.equal(retryDelayMs(1, 0), 4 * MIN);
  assert.equal(retryDelayMs(1, 0.999_999_999), Math.round(6 * MIN - 0.000_000_001 * 2 * 0.2 * 5 * MIN));
  assert.equal(retryDelayMs(10, 0), 48 * MIN);
});

test('the retry times of a message that keeps failing, until its lifetime of 5 days ends', () => {
  const arrival = 0;
  const expiresAt = arrival + 5 * 86_400_000;
  let now = arrival;
  const retries: number[] = [];
  for (let attempts = 1; ; attempts++) {
    const decision = planRetry({ now, attempts, expiresAt, random: 0.5 });
    if (decision.kind === 'expire') {
      assert.equal(decision.reason, 'queue lifetime exceeded');
      break;
    }
    retries.push(decision.delayMs / MIN);
    now = decision.at;
  }
  assert.deepEqual(retries.slice(0, 6), [5, 10, 20, 40, 60, 60]);
  // 75 min in the first 4 retries, then hourly: (7200 - 75 - 60) / 60 more hourly retries fit.
  assert.equal(retries.length, 4 + Math.floor((5 * 24 * 60 - 75) / 60));
  assert.ok(now <= expiresAt);
});

test('an optional maximum number of attempts expires earlier', () => {
  const decision = planRetry({
    now: 0,
    attempts: 3,
    expiresAt: 1e12,
    random: 0.5,
    policy: { firstDelayMs: 1, maxDelayMs: 2, jitter: 0, maxAttempts: 3 },
  });
  assert.deepEqual(decision, { kind: 'expire', reason: 'gave up after 3 attempts' });
});
