import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CachedMtaStsPolicy, cachePolicy } from '@outpost/core';
import { DnsError } from '@outpost/dns';
import type { PolicyCache } from '../src/mta-sts/policy-cache.ts';
import { parsePolicyFile, policyListsMx } from '../src/mta-sts/policy-file.ts';
import { createPolicySource } from '../src/mta-sts/policy-source.ts';

const ENFORCE =
  'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.backup.example.net\r\nmax_age: 86400\r\n';

test('a policy file is parsed with mailauth: mode, max_age, mx patterns, the TXT id', () => {
  assert.deepEqual(parsePolicyFile(ENFORCE, 'id1'), {
    id: 'id1',
    mode: 'enforce',
    maxAgeSeconds: 86_400,
    mx: ['mail.example.com', '*.backup.example.net'],
  });
  assert.equal(parsePolicyFile('version: STSv1\nmode: none\nmax_age: 60\n', 'x').mode, 'none');
});

test('invalid policies are refused: version, mode, max_age, missing mx (§3.2)', () => {
  for (const text of [
    'mode: enforce\nmx: a.example\nmax_age: 60\n',
    'version: STSv1\nmode: strict\nmx: a.example\nmax_age: 60\n',
    'version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999\n',
    'version: STSv1\nmode: enforce\nmax_age: 60\n',
  ]) {
    assert.throws(() => parsePolicyFile(text, 'x'), Error, text);
  }
});

test('MX matching (§4.1): exact names, and a wildcard for exactly one left-most label', () => {
  const policy = parsePolicyFile(ENFORCE, 'id1');
  assert.equal(policyListsMx('mail.example.com', policy), true);
  assert.equal(policyListsMx('MAIL.Example.com.', policy), true);
  assert.equal(policyListsMx('mx1.backup.example.net', policy), true);
  assert.equal(policyListsMx('backup.example.net', policy), false);
  assert.equal(policyListsMx('a.b.backup.example.net', policy), false);
  assert.equal(policyListsMx('evil.example.com', policy), false);
});

/** An in-memory stand-in for the Redis cache, with the same contract. */
function memoryCache(): PolicyCache & {
  entries: Map<string, CachedMtaStsPolicy>;
  failures: Map<string, string>;
} {
  const entries = new Map<string, CachedMtaStsPolicy>();
  const failures = new Map<string, string>();
  return {
    entries,
    failures,
    get: async (domain) => entries.get(domain),
    put: async (domain, cached) => void entries.set(domain, cached),
    recentFailure: async (domain) => (failures.has(domain) ? { id: failures.get(domain)! } : undefined),
    noteFailure: async (domain, id) => void failures.set(domain, id),
  };
}

test('the policy source: fetch once per id, reuse the cache, fall back to it when a fetch fails', async () => {
  const cache = memoryCache();
  let txt = 'v=STSv1; id=one;';
  let fetches = 0;
  let fetchFails = false;
  let now = 1_000_000;
  const source = createPolicySource({
    cache,
    memoMs: 0,
    now: () => now,
    resolveTxt: async () => [[txt]],
    fetchText: async () => {
      fetches++;
      if (fetchFails) throw new Error('connection refused');
      return ENFORCE;
    },
  });
  const first = await source.policyFor('example.com');
  assert.equal(first.source, 'fetched');
  assert.equal(first.policy?.id, 'one');
  assert.equal(cache.entries.get('example.com')?.expiresAt, now + 86_400_000);

  const again = await source.policyFor('example.com');
  assert.equal(again.source, 'cache');
  assert.equal(fetches, 1, 'the same id is not fetched again');

  txt = 'v=STSv1; id=two;';
  fetchFails = true;
  const failed = await source.policyFor('example.com');
  assert.equal(failed.source, 'cache');
  assert.equal(failed.policy?.id, 'one', 'the cached policy still applies');
  assert.match(failed.note ?? '', /fetching policy two failed: connection refused/);
  assert.equal(cache.failures.get('example.com'), 'two');
  await source.policyFor('example.com');
  assert.equal(fetches, 2, 'a failed id is not fetched again right away');

  now += 86_400_000;
  const expired = await source.policyFor('example.com');
  assert.equal(expired.source, 'none', 'an expired policy no longer applies');
});

test('the policy source: no record or NXDOMAIN means no policy; a DNS failure keeps a fresh cached one', async () => {
  const cache = memoryCache();
  let answer: () => Promise<string[][]> = async () => [['v=spf1 -all']];
  const source = createPolicySource({
    cache,
    memoMs: 0,
    resolveTxt: () => answer(),
    fetchText: async () => assert.fail('no fetch without a record'),
  });
  assert.equal((await source.policyFor('plain.test')).source, 'none');
  answer = async () => {
    throw new DnsError('nxdomain', 'ENOTFOUND', '_mta-sts.plain.test', 'TXT');
  };
  assert.equal((await source.policyFor('plain.test')).source, 'none');
  cache.entries.set('plain.test', cachePolicy(parsePolicyFile(ENFORCE, 'old'), Date.now()));
  answer = async () => {
    throw new DnsError('temporary', 'ETIMEOUT', '_mta-sts.plain.test', 'TXT');
  };
  const kept = await source.policyFor('plain.test');
  assert.equal(kept.source, 'cache');
  assert.equal(kept.policy?.id, 'old');
});

test('the policy source: concurrent attempts to one domain share one lookup', async () => {
  let fetches = 0;
  const source = createPolicySource({
    cache: memoryCache(),
    resolveTxt: async () => [['v=STSv1; id=one']],
    fetchText: async () => {
      fetches++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return ENFORCE;
    },
  });
  const results = await Promise.all([1, 2, 3].map(() => source.policyFor('Example.COM')));
  assert.equal(fetches, 1);
  assert.ok(results.every((result) => result.policy?.id === 'one'));
});

test('the policy source: a worker remembers a lookup for a while, never past the policy expiry', async () => {
  const cache = memoryCache();
  let lookups = 0;
  let now = 5_000_000;
  const source = createPolicySource({
    cache,
    now: () => now,
    memoMs: 60_000,
    resolveTxt: async () => {
      lookups++;
      return [['v=STSv1; id=one']];
    },
    fetchText: async () => ENFORCE.replace('max_age: 86400', 'max_age: 30'),
  });
  assert.equal((await source.policyFor('memo.test')).source, 'fetched');
  assert.equal((await source.policyFor('memo.test')).source, 'cache');
  assert.equal(lookups, 1, 'the second attempt asked neither DNS nor Redis');
  now += 30_000;
  await source.policyFor('memo.test');
  assert.equal(lookups, 2, 'the memo ends with the policy (max_age 30 s)');
});
