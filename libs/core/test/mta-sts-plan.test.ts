import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  classify,
  explainCategory,
  MTA_STS_EXPLANATION,
  type MtaStsPolicy,
  type MxMatcher,
  planMtaStsDelivery,
  tlsShortfall,
} from '../src/index.ts';

/** Exact names only; wildcard matching is mailauth's, tested in services/delivery. */
const exact: MxMatcher = (host, policy) => policy.mx.includes(host);
const policy = (mode: MtaStsPolicy['mode'], mx: string[]): MtaStsPolicy => ({
  id: 'p1',
  mode,
  maxAgeSeconds: 60,
  mx,
});
const HOSTS = ['mx1.example.com', 'backup.other.net', 'mx2.example.com'];

test('no policy or mode none: every MX, opportunistic TLS', () => {
  for (const applied of [undefined, policy('none', [])]) {
    assert.deepEqual(planMtaStsDelivery(HOSTS, applied, exact), {
      hosts: HOSTS,
      unlisted: [],
      requireVerifiedTls: false,
    });
  }
});

test('enforce: only listed MX hosts, in order, and verified TLS (§5)', () => {
  const plan = planMtaStsDelivery(HOSTS, policy('enforce', ['mx1.example.com', 'mx2.example.com']), exact);
  assert.deepEqual(plan, {
    policy: { id: 'p1', mode: 'enforce' },
    hosts: ['mx1.example.com', 'mx2.example.com'],
    unlisted: ['backup.other.net'],
    requireVerifiedTls: true,
  });
  assert.deepEqual(planMtaStsDelivery(HOSTS, policy('enforce', ['elsewhere.test']), exact).hosts, []);
});

test('testing: every MX as usual, the unlisted ones reported', () => {
  const plan = planMtaStsDelivery(HOSTS, policy('testing', ['mx1.example.com']), exact);
  assert.deepEqual(plan.hosts, HOSTS);
  assert.deepEqual(plan.unlisted, ['backup.other.net', 'mx2.example.com']);
  assert.equal(plan.requireVerifiedTls, false);
  assert.deepEqual(plan.policy, { id: 'p1', mode: 'testing' });
});

test('what a session lacks for the policy: STARTTLS, a valid certificate, a handshake', () => {
  assert.equal(tlsShortfall('mx', { offered: true, established: true, verified: true }), undefined);
  assert.match(tlsShortfall('mx', { offered: false, established: false }) ?? '', /does not offer STARTTLS/);
  assert.match(
    tlsShortfall('mx', {
      offered: true,
      established: true,
      verified: false,
      error: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    }) ?? '',
    /certificate of mx does not verify \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
  );
  assert.match(
    tlsShortfall('mx', { offered: true, established: false, verified: false, error: 'CERT_HAS_EXPIRED' }) ??
      '',
    /certificate of mx does not verify \(CERT_HAS_EXPIRED\)/,
  );
  assert.match(
    tlsShortfall('mx', { offered: true, established: false, error: 'boom' }) ?? '',
    /TLS with mx failed \(boom\)/,
  );
});

test('an enforced refusal is deferred with the MTA-STS category, and another host is tried', () => {
  const cases = [
    ['mx-not-listed', '4.4.4'],
    ['no-starttls', '4.7.4'],
    ['certificate', '4.7.5'],
    ['tls-failed', '4.7.5'],
  ] as const;
  for (const [failure, status] of cases) {
    const result = classify({ kind: 'mta-sts', failure, detail: 'x' });
    assert.equal(result.verdict, 'deferred');
    assert.equal(result.category, 'mta_sts_tls_required');
    assert.equal(result.status, status);
    assert.equal(result.next, 'next-address');
    assert.equal(result.rule, 'mta-sts-enforced');
  }
});

test("the category's explanation says TLS is required by the receiver's MTA-STS policy", () => {
  assert.match(MTA_STS_EXPLANATION.cause, /^TLS required by the receiver's MTA-STS policy/);
  // What DSNs and `outpost explain` show for the category.
  assert.equal(explainCategory('mta_sts_tls_required'), MTA_STS_EXPLANATION);
});
