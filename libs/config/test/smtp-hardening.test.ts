import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConfigError, loadConfig } from '../src/index.ts';

const DEV = { OUTPOST_ENV: 'development', OUTPOST_HOSTNAME: 'localhost' };

test('SMTP hardening defaults', () => {
  const config = loadConfig(DEV);
  assert.equal(config.smtpMaxClients, 1000);
  assert.equal(config.smtpIdleTimeoutMs, 5 * 60_000);
  assert.equal(config.smtpSessionTimeoutMs, 30 * 60_000);
  assert.deepEqual(config.authThrottle, {
    windowMs: 15 * 60_000,
    slowAfter: 3,
    delayStepMs: 1_000,
    addressLimit: 10,
    userLimit: 50,
  });
  assert.deepEqual(config.rateLimits, {
    perUser: { limit: 1000, windowMs: 3_600_000 },
    perAddress: { limit: 1000, windowMs: 3_600_000 },
  });
  assert.deepEqual(config.relayDomains, []);
});

test('SMTP hardening values are parsed; rates may be switched off', () => {
  const config = loadConfig({
    ...DEV,
    OUTPOST_SMTP_MAX_CLIENTS: '20',
    OUTPOST_SMTP_IDLE_TIMEOUT: '30s',
    OUTPOST_SMTP_SESSION_TIMEOUT: '2m',
    OUTPOST_AUTH_FAILURE_WINDOW: '1h',
    OUTPOST_AUTH_SLOW_AFTER: '0',
    OUTPOST_AUTH_FAILURE_DELAY: '250ms',
    OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS: '5',
    OUTPOST_AUTH_MAX_FAILURES_PER_USER: '20',
    OUTPOST_RATE_LIMIT_PER_USER: '50 / 10m',
    OUTPOST_RATE_LIMIT_PER_ADDRESS: 'off',
    OUTPOST_RELAY_DOMAINS: 'Ours.Example, bücher.example',
  });
  assert.equal(config.smtpMaxClients, 20);
  assert.equal(config.smtpIdleTimeoutMs, 30_000);
  assert.equal(config.smtpSessionTimeoutMs, 120_000);
  assert.deepEqual(config.authThrottle, {
    windowMs: 3_600_000,
    slowAfter: 0,
    delayStepMs: 250,
    addressLimit: 5,
    userLimit: 20,
  });
  assert.deepEqual(config.rateLimits, { perUser: { limit: 50, windowMs: 600_000 } });
  assert.equal(loadConfig({ ...DEV, OUTPOST_RATE_LIMIT_PER_USER: '0' }).rateLimits.perUser, undefined);
  assert.deepEqual(
    config.relayDomains,
    ['ours.example', 'xn--bcher-kva.example'],
    'relay domains as A-labels',
  );
});

test('bad SMTP hardening values are reported by variable name', () => {
  assert.throws(
    () =>
      loadConfig({
        ...DEV,
        OUTPOST_SMTP_MAX_CLIENTS: '0',
        OUTPOST_SMTP_IDLE_TIMEOUT: '0s',
        OUTPOST_SMTP_SESSION_TIMEOUT: 'forever',
        OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS: '0',
        OUTPOST_RATE_LIMIT_PER_USER: 'lots',
        OUTPOST_RATE_LIMIT_PER_ADDRESS: '10/0s',
        OUTPOST_RELAY_DOMAINS: 'bad_domain..example',
      }),
    (error: ConfigError) => {
      const keys = error.problems.map((problem) => problem.split(':')[0]);
      for (const key of [
        'OUTPOST_SMTP_MAX_CLIENTS',
        'OUTPOST_SMTP_IDLE_TIMEOUT',
        'OUTPOST_SMTP_SESSION_TIMEOUT',
        'OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS',
        'OUTPOST_RATE_LIMIT_PER_USER',
        'OUTPOST_RATE_LIMIT_PER_ADDRESS',
        'OUTPOST_RELAY_DOMAINS',
      ]) {
        assert.ok(keys.includes(key), `${key} reported in ${error.message}`);
      }
      return true;
    },
  );
});
