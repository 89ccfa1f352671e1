import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadBounceConfig, loadConfig } from '@outpost/config';
import { createLogger } from '@outpost/telemetry';
import { startBounce } from '../src/index.ts';

test('defaults: 30 s window, 100 DSNs per sender per hour, no_such_user for 30 days, 2-day DSNs', () => {
  const config = loadBounceConfig({});
  assert.equal(config.collectWindowMs, 30_000);
  assert.equal(config.backscatterLimit, 100);
  assert.equal(config.postmaster, undefined);
  assert.deepEqual(config.suppressionCategories, ['no_such_user']);
  assert.equal(config.suppressionMs, 30 * 86_400_000);
  assert.equal(config.dsnLifetimeMs, 2 * 86_400_000);
  assert.ok(Object.isFrozen(config));
});

test('values are parsed; "none" and 0 turn suppression off; empty means unset', () => {
  const config = loadBounceConfig({
    OUTPOST_DSN_COLLECT_WINDOW: '5s',
    OUTPOST_BACKSCATTER_LIMIT: '0',
    OUTPOST_POSTMASTER: 'postmaster@example.com',
    OUTPOST_SUPPRESSION_CATEGORIES: 'no_such_user, domain_not_found',
    OUTPOST_SUPPRESSION_TIME: '0',
    OUTPOST_DSN_LIFETIME: '1d',
    OUTPOST_BOUNCE_CONCURRENCY: '',
  });
  assert.equal(config.collectWindowMs, 5_000);
  assert.equal(config.backscatterLimit, 0);
  assert.equal(config.postmaster, 'postmaster@example.com');
  assert.deepEqual(config.suppressionCategories, ['no_such_user', 'domain_not_found']);
  assert.equal(config.suppressionMs, 0);
  assert.equal(config.dsnLifetimeMs, 86_400_000);
  assert.equal(config.concurrency, 10);
  assert.deepEqual(loadBounceConfig({ OUTPOST_SUPPRESSION_CATEGORIES: 'none' }).suppressionCategories, []);
});

test('every bad value is reported at once', () => {
  assert.throws(
    () =>
      loadBounceConfig({
        OUTPOST_DSN_COLLECT_WINDOW: '0',
        OUTPOST_BACKSCATTER_LIMIT: '-1',
        OUTPOST_POSTMASTER: 'not an address',
        OUTPOST_SUPPRESSION_CATEGORIES: 'No-Such-User',
        OUTPOST_DSN_LIFETIME: 'soon',
      }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.problems.map((problem) => problem.split(':')[0]).join() ===
        'OUTPOST_DSN_COLLECT_WINDOW,OUTPOST_BACKSCATTER_LIMIT,OUTPOST_POSTMASTER,OUTPOST_SUPPRESSION_CATEGORIES,OUTPOST_DSN_LIFETIME',
  );
});

test('an unknown suppression category stops the service before it touches Redis', async () => {
  const env = { OUTPOST_ENV: 'development', OUTPOST_HOSTNAME: 'localhost', REDIS_URL: 'redis://127.0.0.1:1' };
  await assert.rejects(
    startBounce({
      config: loadConfig(env),
      bounce: loadBounceConfig({ OUTPOST_SUPPRESSION_CATEGORIES: 'no_such_user,no_such_thing' }),
      logger: createLogger({ service: 'bounce', level: 'silent' }),
    }),
    (error: unknown) => error instanceof ConfigError && /no_such_thing/.test(error.message),
  );
});
