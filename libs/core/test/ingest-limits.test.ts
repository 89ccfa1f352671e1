import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authThrottleVerdict,
  clientKey,
  commandLineLimit,
  exceedsRateLimit,
  MAX_AUTH_DELAY_STEPS,
  rateWindowSlots,
  relayVerdict,
  slidingWindowCount,
} from '../src/index.ts';

test('command line limits: 512 octets, more room for MAIL/RCPT parameters and AUTH', () => {
  assert.equal(commandLineLimit('NOOP'), 512);
  assert.equal(commandLineLimit('EHLO'), 512);
  assert.ok(commandLineLimit('MAIL') > 512);
  assert.ok(commandLineLimit('RCPT') >= 512 + 500, 'an ORCPT may be 500 characters (RFC 3461)');
  assert.equal(commandLineLimit('AUTH'), 12_288);
  assert.equal(commandLineLimit('', true), 12_288);
});

test('relay verdicts: relay domains from anyone, elsewhere only for AUTH or trusted clients', () => {
  const base = { relayDomains: ['ours.test'], authenticated: false, trusted: false };
  assert.equal(relayVerdict({ ...base, domain: 'ours.test' }), 'inbound');
  assert.equal(relayVerdict({ ...base, domain: 'sub.ours.test' }), 'denied');
  assert.equal(relayVerdict({ ...base, domain: 'example.org' }), 'denied');
  assert.equal(relayVerdict({ ...base, domain: 'example.org', authenticated: true }), 'submission');
  assert.equal(relayVerdict({ ...base, domain: 'example.org', trusted: true }), 'submission');
});

test('AUTH throttle: free, then slowed step by step (capped), then refused', () => {
  const policy = { slowAfter: 3, addressLimit: 10, userLimit: 50, delayStepMs: 100 };
  const verdict = (address: number, user = 0) => authThrottleVerdict({ address, user }, policy);
  assert.deepEqual(verdict(0), { action: 'proceed', delayMs: 0 });
  assert.deepEqual(verdict(2), { action: 'proceed', delayMs: 0 });
  assert.deepEqual(verdict(3), { action: 'proceed', delayMs: 100 });
  assert.deepEqual(verdict(9), { action: 'proceed', delayMs: 700 });
  assert.deepEqual(verdict(10), { action: 'refuse' });
  assert.deepEqual(verdict(0, 5), { action: 'proceed', delayMs: 300 }, 'per-user failures slow too');
  assert.deepEqual(verdict(0, 50), { action: 'refuse' });
  const generous = { ...policy, addressLimit: 1_000, userLimit: 1_000 };
  assert.deepEqual(authThrottleVerdict({ address: 500, user: 0 }, generous), {
    action: 'proceed',
    delayMs: MAX_AUTH_DELAY_STEPS * 100,
  });
});

test('sliding-window rate: the previous window fades out as the current one advances', () => {
  assert.deepEqual(rateWindowSlots(3_600_000 * 5 + 900_000, 3_600_000), {
    current: 5,
    previous: 4,
    elapsed: 0.25,
  });
  assert.equal(slidingWindowCount(100, 10, 0.25), 85);
  const limit = { limit: 100, windowMs: 3_600_000 };
  assert.equal(exceedsRateLimit(limit, { previous: 100, current: 1 }, 0.5), false);
  assert.equal(exceedsRateLimit(limit, { previous: 100, current: 51 }, 0.5), true);
  assert.equal(exceedsRateLimit(limit, { previous: 0, current: 100 }, 0.9), false);
  assert.equal(exceedsRateLimit(limit, { previous: 0, current: 101 }, 0.9), true);
});

test('client keys: IPv4 as is, IPv6 per /64', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
});
