import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CachedMtaStsPolicy,
  cachePolicy,
  isPolicyFresh,
  MTA_STS_MAX_AGE_LIMIT_SECONDS,
  type MtaStsPolicy,
  planPolicyLookup,
} from '../src/index.ts';

const policy = (id: string, maxAgeSeconds = 3600): MtaStsPolicy => ({
  id,
  mode: 'enforce',
  maxAgeSeconds,
  mx: ['mx.example.com'],
});
const T0 = 1_800_000_000_000;

test('a cached policy is fresh for max_age after it was fetched, capped at a year (§3.2)', () => {
  const cached = cachePolicy(policy('a', 60), T0);
  assert.equal(cached.expiresAt, T0 + 60_000);
  assert.equal(isPolicyFresh(cached, T0 + 59_999), true);
  assert.equal(isPolicyFresh(cached, T0 + 60_000), false);
  assert.equal(isPolicyFresh(undefined, T0), false);
  const capped = cachePolicy(policy('b', 10 * MTA_STS_MAX_AGE_LIMIT_SECONDS), T0);
  assert.equal(capped.expiresAt, T0 + MTA_STS_MAX_AGE_LIMIT_SECONDS * 1000);
});

test('the published id is the cached one and the policy is fresh: no fetch', () => {
  const cached = cachePolicy(policy('a'), T0);
  const step = planPolicyLookup({ kind: 'found', id: 'a' }, cached, T0 + 1000);
  assert.equal(step.step, 'use-cached');
});

test('a new id is fetched, with the fresh cached policy kept to fall back on (§5.1)', () => {
  const cached = cachePolicy(policy('a'), T0);
  assert.deepEqual(planPolicyLookup({ kind: 'found', id: 'b' }, cached, T0 + 1000), {
    step: 'fetch',
    id: 'b',
    fallback: cached,
  });
});

test('the same id but an expired cache: fetched again, nothing to fall back on', () => {
  const cached = cachePolicy(policy('a', 60), T0);
  assert.deepEqual(planPolicyLookup({ kind: 'found', id: 'a' }, cached, T0 + 61_000), {
    step: 'fetch',
    id: 'a',
  });
  assert.deepEqual(planPolicyLookup({ kind: 'found', id: 'a' }, undefined, T0), { step: 'fetch', id: 'a' });
});

test('no TXT record or a DNS failure: a fresh cached policy still applies, else there is none (§3.3)', () => {
  const cached: CachedMtaStsPolicy = cachePolicy(policy('a'), T0);
  for (const record of [
    { kind: 'absent', reason: 'no-record' } as const,
    { kind: 'absent', reason: 'invalid-record' } as const,
    { kind: 'dns-failed', detail: 'ETIMEOUT' } as const,
  ]) {
    assert.equal(planPolicyLookup(record, cached, T0 + 1000).step, 'use-cached');
    assert.equal(planPolicyLookup(record, cached, T0 + 3_600_000).step, 'no-policy');
    assert.equal(planPolicyLookup(record, undefined, T0).step, 'no-policy');
  }
});

test('a fetch of this id failed recently: not fetched again (§3.3), cached or nothing', () => {
  const cached = cachePolicy(policy('a'), T0);
  assert.equal(planPolicyLookup({ kind: 'found', id: 'b' }, cached, T0, { id: 'b' }).step, 'use-cached');
  assert.equal(planPolicyLookup({ kind: 'found', id: 'b' }, undefined, T0, { id: 'b' }).step, 'no-policy');
  // A failure for an older id does not hold back the new one.
  assert.equal(planPolicyLookup({ kind: 'found', id: 'c' }, undefined, T0, { id: 'b' }).step, 'fetch');
});
