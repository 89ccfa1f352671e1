import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadTraceQueryConfig } from '@outpost/config';
import { authenticateOperator, generateOperatorKey, hashOperatorKey, parseTimeBound } from '../src/index.ts';

test('a generated key authenticates as its name; other keys and malformed headers do not', () => {
  const ops = generateOperatorKey('ops');
  const audit = generateOperatorKey('audit.team');
  const { operatorKeys } = loadTraceQueryConfig({ OUTPOST_OPERATOR_KEYS: `${ops.entry}\n${audit.entry}` });
  assert.deepEqual(
    operatorKeys.map((entry) => entry.name),
    ['ops', 'audit.team'],
  );
  assert.equal(authenticateOperator(operatorKeys, `Bearer ${ops.key}`), 'ops');
  assert.equal(authenticateOperator(operatorKeys, `bearer ${audit.key}`), 'audit.team');
  assert.equal(authenticateOperator(operatorKeys, `Bearer ${ops.key}x`), undefined);
  assert.equal(authenticateOperator(operatorKeys, ops.key), undefined, 'the scheme is required');
  assert.equal(authenticateOperator(operatorKeys, undefined), undefined);
  assert.equal(authenticateOperator([], `Bearer ${ops.key}`), undefined);
  assert.ok(!ops.entry.includes(ops.key), 'only the hash is configured');
  assert.equal(ops.entry, `ops:sha256-${hashOperatorKey(ops.key).toString('hex')}`);
});

test('OUTPOST_OPERATOR_KEYS problems are all reported, without echoing hashes', () => {
  const hash = `sha256-${'ab'.repeat(32)}`;
  assert.throws(
    () =>
      loadTraceQueryConfig({
        OUTPOST_OPERATOR_KEYS: `bad name:${hash};ops:md5-123;ops:${hash};ops:${hash};x:${hash}:extra`,
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4, error.message);
      assert.match(error.message, /entry 1: the name must be/);
      assert.match(error.message, /entry 2 \(ops\): the second field must be sha256-/);
      assert.match(error.message, /entry 4 \(ops\): duplicate name/);
      assert.match(error.message, /entry 5 \(x\): too many ':' fields/);
      assert.doesNotMatch(error.message, /abab/);
      return true;
    },
  );
  assert.throws(() => generateOperatorKey('no spaces please'), ConfigError);
});

test('trace-query settings: defaults, the trace UI link, listen address', () => {
  const defaults = loadTraceQueryConfig({});
  assert.deepEqual(defaults.listen, { host: '0.0.0.0', port: 8090 });
  assert.deepEqual(defaults.operatorKeys, []);
  assert.equal(defaults.traceUiUrl, undefined);
  assert.equal(defaults.logRetentionMs, 7 * 86_400_000);
  assert.equal(defaults.webhooksEnabled, false);
  const set = loadTraceQueryConfig({
    OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:9999',
    OUTPOST_TRACE_UI_URL: 'http://jaeger:16686/',
    OUTPOST_WEBHOOK_URLS: 'https://hooks.example/outpost',
  });
  assert.equal(set.traceUiUrl, 'http://jaeger:16686');
  assert.deepEqual(set.listen, { host: '127.0.0.1', port: 9999 });
  assert.equal(set.webhooksEnabled, true);
  assert.throws(() => loadTraceQueryConfig({ OUTPOST_TRACE_UI_URL: 'ftp://x' }), ConfigError);
  assert.throws(() => loadTraceQueryConfig({ OUTPOST_TRACE_QUERY_LISTEN: 'nowhere' }), ConfigError);
});

test('time bounds: a duration ago, epoch milliseconds, or an ISO time', () => {
  const now = 1_800_000_000_000;
  assert.equal(parseTimeBound('1h', now), now - 3_600_000);
  assert.equal(parseTimeBound('90m', now), now - 5_400_000);
  assert.equal(parseTimeBound('1700000000000', now), 1_700_000_000_000);
  assert.equal(parseTimeBound('2026-01-02T03:04:05Z', now), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseTimeBound('yesterday', now), undefined);
});
