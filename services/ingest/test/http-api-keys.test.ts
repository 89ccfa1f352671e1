import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { authenticateApiKey, generateApiKey, parseApiKeys, parseRateLimit } from '../src/index.ts';

const sha = (key: string) => `sha256-${createHash('sha256').update(key).digest('hex')}`;

describe('API keys', () => {
  test('OUTPOST_API_KEYS: entries by newline or ";", comments, default rate', () => {
    const keys = parseApiKeys(
      `# shop front\nshop:${sha('k1')}:noreply@shop.example, @News.Shop.example:100/min\n\n crm:${sha('k2')}:*; bounces:${sha('k3')}:<>:unlimited`,
    );
    assert.deepEqual(
      keys.map((key) => [key.name, key.allowedSenders, key.rate]),
      [
        ['shop', ['noreply@shop.example', '@news.shop.example'], { limit: 100, windowMs: 60_000 }],
        ['crm', ['*'], { limit: 600, windowMs: 60_000 }],
        ['bounces', ['<>'], { limit: Number.POSITIVE_INFINITY, windowMs: 1_000 }],
      ],
    );
  });

  test('every bad entry is reported, without echoing the hash', () => {
    const hash = sha('k');
    assert.throws(
      () =>
        parseApiKeys(
          [
            `bad name:${hash}:*`,
            'nohash:plain:*',
            `nosenders:${hash}:`,
            `rate:${hash}:*:often`,
            `dup:${hash}:*`,
            `dup:${hash}:*`,
          ].join('\n'),
        ),
      (error: Error) => {
        assert.match(error.message, /entry 1: the name/);
        assert.match(error.message, /entry 2 \(nohash\): the second field/);
        assert.match(error.message, /entry 3 \(nosenders\): no allowed senders/);
        assert.match(error.message, /entry 4 \(rate\): rate must/);
        assert.match(error.message, /entry 6 \(dup\): duplicate name/);
        assert.ok(!error.message.includes(hash.slice(7)));
        return true;
      },
    );
    assert.deepEqual(parseApiKeys(undefined), []);
  });

  test('generateApiKey: a random key whose entry authenticates it, and only it', () => {
    const one = generateApiKey({ name: 'shop', senders: ['@shop.example'], rate: '10/s' });
    const two = generateApiKey({ name: 'crm', senders: ['*'] });
    assert.match(one.key, /^outpost_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(one.key, two.key);
    assert.ok(!one.entry.includes(one.key), 'the entry holds the hash only');
    const keys = parseApiKeys(`${one.entry}\n${two.entry}`);
    assert.equal(authenticateApiKey(keys, `Bearer ${one.key}`)?.name, 'shop');
    assert.equal(authenticateApiKey(keys, `bearer  ${two.key}`)?.name, 'crm');
    assert.deepEqual(keys[0]?.rate, { limit: 10, windowMs: 1_000 });
    for (const header of [
      undefined,
      '',
      one.key,
      `Basic ${one.key}`,
      `Bearer ${one.key}x`,
      `Bearer ${one.key} extra`,
      `Bearer ${one.entry}`,
    ]) {
      assert.equal(authenticateApiKey(keys, header), undefined, String(header));
    }
    assert.throws(() => generateApiKey({ name: 'no senders', senders: [] }), /OUTPOST_API_KEYS/);
  });

  test('rate limits', () => {
    assert.deepEqual(parseRateLimit('5/h'), { limit: 5, windowMs: 3_600_000 });
    assert.deepEqual(parseRateLimit('20000/d'), { limit: 20_000, windowMs: 86_400_000 });
    for (const bad of ['0/s', '10', '10/week', '-1/s', 'x/min'])
      assert.equal(parseRateLimit(bad), undefined, bad);
  });
});
