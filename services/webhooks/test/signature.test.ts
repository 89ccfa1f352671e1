import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadWebhookConfig } from '@outpost/config';
import { retryDelayMs, signWebhookPayload, verifyWebhookSignature } from '../src/index.ts';

const SECRET = 'whsec-0123456789abcdef';
const BODY = '{"v":1,"event":"delivered","messageId":"m","recipient":"bob@example.com"}';

test('a signature verifies for the same secret, body and a timestamp within the tolerance', () => {
  const now = 1_800_000_000;
  const header = signWebhookPayload(SECRET, BODY, now);
  assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhookSignature(SECRET, header, BODY, 300, now), true);
  assert.equal(verifyWebhookSignature(SECRET, header, Buffer.from(BODY), 300, now + 299), true);
});

test('a signature fails for another body, secret, an old or future timestamp, or a malformed header', () => {
  const now = 1_800_000_000;
  const header = signWebhookPayload(SECRET, BODY, now);
  assert.equal(verifyWebhookSignature(SECRET, header, BODY.replace('delivered', 'bounced'), 300, now), false);
  assert.equal(verifyWebhookSignature('another-secret-value', header, BODY, 300, now), false);
  assert.equal(verifyWebhookSignature(SECRET, header, BODY, 300, now + 301), false, 'a replay');
  assert.equal(verifyWebhookSignature(SECRET, header, BODY, 300, now - 301), false);
  // The timestamp is signed: changing it breaks the signature.
  assert.equal(
    verifyWebhookSignature(SECRET, header.replace(`t=${now}`, `t=${now + 1}`), BODY, 300, now),
    false,
  );
  for (const bad of [undefined, '', 'v1=abc', `t=${now}`, `t=x,v1=${'0'.repeat(64)}`])
    assert.equal(verifyWebhookSignature(SECRET, bad, BODY, 300, now), false, String(bad));
});

test('any one of several v1 values may match (secret rotation)', () => {
  const now = 1_800_000_000;
  const old = signWebhookPayload('the-old-secret-value', BODY, now).split(',')[1];
  const current = signWebhookPayload(SECRET, BODY, now);
  assert.equal(verifyWebhookSignature(SECRET, `${current},${old}`, BODY, 300, now), true);
  assert.equal(verifyWebhookSignature(SECRET, `t=${now},${old}`, BODY, 300, now), false);
});

test('retries back off exponentially up to the maximum', () => {
  const retry = { firstDelayMs: 1_000, maxDelayMs: 10_000, maxAttempts: 10 };
  const middle = () => 0.5; // no jitter
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((tries) => retryDelayMs(tries, retry, middle)),
    [1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
  );
  assert.equal(
    retryDelayMs(1, retry, () => 0),
    900,
  );
  assert.equal(
    retryDelayMs(1, retry, () => 1),
    1_100,
  );
});

test('webhook settings: off by default; URLs need a secret; bad URLs are refused', () => {
  assert.deepEqual(loadWebhookConfig({}).urls, []);
  const on = loadWebhookConfig({
    OUTPOST_WEBHOOK_URLS: 'https://a.example/hook, http://b.example:8080/x',
    OUTPOST_WEBHOOK_SECRET: SECRET,
    OUTPOST_WEBHOOK_TIMEOUT: '5s',
  });
  assert.deepEqual(on.urls, ['https://a.example/hook', 'http://b.example:8080/x']);
  assert.equal(on.timeoutMs, 5_000);
  assert.deepEqual(on.retry, { firstDelayMs: 10_000, maxDelayMs: 3_600_000, maxAttempts: 15 });
  assert.throws(
    () => loadWebhookConfig({ OUTPOST_WEBHOOK_URLS: 'https://a.example/hook' }),
    /OUTPOST_WEBHOOK_SECRET/,
  );
  assert.throws(
    () => loadWebhookConfig({ OUTPOST_WEBHOOK_URLS: 'ftp://a.example', OUTPOST_WEBHOOK_SECRET: SECRET }),
    ConfigError,
  );
});
