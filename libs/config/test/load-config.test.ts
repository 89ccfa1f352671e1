import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  loadConfig,
  loadWebhookConfig,
  parseByteSize,
  parseDuration,
  parseListenAddress,
} from '../src/index.ts';

const DEV = { OUTPOST_ENV: 'development', OUTPOST_HOSTNAME: 'localhost' };

test('defaults', () => {
  const config = loadConfig(DEV);
  assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
  assert.deepEqual(config.smtpListen, { host: '0.0.0.0', port: 2525 });
  assert.deepEqual(config.httpListen, { host: '0.0.0.0', port: 8080 });
  assert.equal(config.smtpsListen, undefined);
  assert.equal(config.maxMessageSize, 25 * 1024 * 1024);
  assert.equal(config.maxRecipients, 100);
  assert.equal(config.deliveryPort, 25);
  assert.equal(config.allowPrivateDestinations, false);
  assert.equal(config.queueLifetimeMs, 5 * 86_400_000);
  assert.deepEqual(config.redisHighWater, { kind: 'percent', value: 80 });
  assert.equal(config.trustedNetworks.check('127.0.0.1', 'ipv4'), true);
  assert.equal(config.trustedNetworks.check('::1', 'ipv6'), true);
  assert.equal(config.trustedNetworks.check('192.0.2.1', 'ipv4'), false);
  assert.ok(Object.isFrozen(config));
});

test('values are parsed and typed', () => {
  const config = loadConfig({
    ...DEV,
    OUTPOST_SMTP_LISTEN: '[::1]:587',
    OUTPOST_SMTPS_LISTEN: '127.0.0.1:465',
    OUTPOST_MAX_MESSAGE_SIZE: '10MB',
    OUTPOST_TRUSTED_NETWORKS: '10.0.0.0/8, 2001:db8::/32',
    OUTPOST_RELAY_DOMAINS: 'Example.COM,example.net',
    OUTPOST_DNS_SERVERS: '127.0.0.1:5353 127.0.0.2:53',
    OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'true',
    OUTPOST_REDIS_HIGH_WATER: '512MB',
    OUTPOST_QUEUE_LIFETIME: '2h',
  });
  assert.deepEqual(config.smtpListen, { host: '::1', port: 587 });
  assert.deepEqual(config.smtpsListen, { host: '127.0.0.1', port: 465 });
  assert.equal(config.maxMessageSize, 10 * 1024 * 1024);
  assert.equal(config.trustedNetworks.check('10.1.2.3', 'ipv4'), true);
  assert.equal(config.trustedNetworks.check('127.0.0.1', 'ipv4'), false);
  assert.equal(config.trustedNetworks.check('2001:db8::5', 'ipv6'), true);
  assert.deepEqual(config.relayDomains, ['example.com', 'example.net']);
  assert.deepEqual(config.dnsServers, ['127.0.0.1:5353', '127.0.0.2:53']);
  assert.equal(config.allowPrivateDestinations, true);
  assert.deepEqual(config.redisHighWater, { kind: 'bytes', value: 512 * 1024 * 1024 });
  assert.equal(config.queueLifetimeMs, 7_200_000);
});

test('every bad value is reported at once, by variable name', () => {
  try {
    loadConfig({
      OUTPOST_HOSTNAME: 'localhost',
      REDIS_URL: 'http://nope',
      OUTPOST_SMTP_LISTEN: 'no-port',
      OUTPOST_MAX_RECIPIENTS: '0',
      OUTPOST_TRUSTED_NETWORKS: '10.0.0.0/33',
      OUTPOST_ALLOW_PRIVATE_DESTINATIONS: 'maybe',
      OUTPOST_TLS_KEY: '/k.pem',
    });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const keys = error.problems.map((problem) => problem.split(':')[0]);
    for (const key of [
      'REDIS_URL',
      'OUTPOST_SMTP_LISTEN',
      'OUTPOST_MAX_RECIPIENTS',
      'OUTPOST_TRUSTED_NETWORKS',
      'OUTPOST_ALLOW_PRIVATE_DESTINATIONS',
    ]) {
      assert.ok(keys.includes(key), `${key} reported in ${error.message}`);
    }
  }
});

test("production requires a fully qualified hostname; the certificate is ingest's to require", () => {
  assert.throws(
    () => loadConfig({ OUTPOST_HOSTNAME: 'localhost' }),
    (error: ConfigError) => {
      assert.ok(error.problems.some((problem) => problem.startsWith('OUTPOST_HOSTNAME')));
      return true;
    },
  );
  // Delivery, bounce and trace-query serve no TLS: production without a certificate is valid for them.
  assert.equal(loadConfig({ OUTPOST_HOSTNAME: 'mail.example.com' }).tls, undefined);
  const config = loadConfig({
    OUTPOST_HOSTNAME: 'mail.example.com',
    OUTPOST_TLS_CERT: '/c',
    OUTPOST_TLS_KEY: '/k',
  });
  assert.deepEqual(config.tls, { certFile: '/c', keyFile: '/k' });
});

test('an empty variable counts as unset', () => {
  assert.equal(
    loadConfig({ ...DEV, OUTPOST_SMTPS_LISTEN: '', OUTPOST_MAX_RECIPIENTS: '' }).maxRecipients,
    100,
  );
});

test('unit parsers', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('4h'), 14_400_000);
  assert.equal(parseDuration('1.5d'), 129_600_000);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseByteSize('512k'), 524_288);
  assert.equal(parseByteSize('25MB'), 26_214_400);
  assert.equal(parseByteSize('1GiB'), 1_073_741_824);
  assert.equal(parseByteSize('12 parsecs'), undefined);
  assert.deepEqual(parseListenAddress(':2525'), { host: '0.0.0.0', port: 2525 });
  assert.equal(parseListenAddress('host:70000'), undefined);
});

test('a webhook URL with a user name or password is refused at start, without echoing the secret', () => {
  assert.throws(
    () =>
      loadWebhookConfig({
        OUTPOST_WEBHOOK_URLS: 'https://hook:S3cret@hooks.example/x?token=abc',
        OUTPOST_WEBHOOK_SECRET: 'shared-secret-0123456',
      }),
    (error: ConfigError) => {
      assert.ok(error.problems.some((problem) => problem.startsWith('OUTPOST_WEBHOOK_URLS')));
      assert.doesNotMatch(error.message, /S3cret|token=abc/);
      return true;
    },
  );
  assert.deepEqual(
    loadWebhookConfig({
      OUTPOST_WEBHOOK_URLS: 'https://hooks.example/x?token=abc',
      OUTPOST_WEBHOOK_SECRET: 'shared-secret-0123456',
    }).urls,
    ['https://hooks.example/x?token=abc'],
  );
});
