import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '@outpost/config';
import {
  clusterOptions,
  OUTPOST_SLOT,
  parseRedisUrl,
  RedisUrlError,
  redisOptions,
} from '../src/connection.ts';

test('one server: redis:// and rediss://, credentials, database, IPv6', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), {
    kind: 'standalone',
    endpoint: { host: '127.0.0.1', port: 6379 },
    db: 0,
    tls: false,
  });
  assert.deepEqual(parseRedisUrl('rediss://outpost:p%40ss%2Fw0rd@redis.example.com:6380/2'), {
    kind: 'standalone',
    endpoint: { host: 'redis.example.com', port: 6380 },
    db: 2,
    tls: true,
    username: 'outpost',
    password: 'p@ss/w0rd',
  });
  // Like redis-cli -u: a lone field before @ is the password (AUTH <password>).
  assert.deepEqual(parseRedisUrl('redis://s3cret@redis'), {
    kind: 'standalone',
    endpoint: { host: 'redis', port: 6379 },
    db: 0,
    tls: false,
    password: 's3cret',
  });
  assert.equal(parseRedisUrl('redis://:s3cret@redis').password, 's3cret');
  const v6 = parseRedisUrl('redis://[::1]:6380/');
  assert.ok(v6.kind === 'standalone');
  assert.deepEqual(v6.endpoint, { host: '::1', port: 6380 });
});

test('Sentinel: a list of sentinels, the master name, a database, sentinel credentials', () => {
  assert.deepEqual(
    parseRedisUrl(
      'rediss-sentinel://app:pw@10.0.0.1:26379,sentinel-2,[fd00::3]:26380/mymaster/1?sentinelPassword=sp',
    ),
    {
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-2', port: 26379 },
        { host: 'fd00::3', port: 26380 },
      ],
      masterName: 'mymaster',
      db: 1,
      tls: true,
      username: 'app',
      password: 'pw',
      sentinelPassword: 'sp',
    },
  );
  assert.deepEqual(parseRedisUrl('redis-sentinel://s1:26379,s2:26379/mymaster'), {
    kind: 'sentinel',
    sentinels: [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ],
    masterName: 'mymaster',
    db: 0,
    tls: false,
  });
});

test('Cluster: seed nodes, default port 6379, TLS', () => {
  assert.deepEqual(parseRedisUrl('rediss-cluster://:pw@node-1:7000,node-2'), {
    kind: 'cluster',
    nodes: [
      { host: 'node-1', port: 7000 },
      { host: 'node-2', port: 6379 },
    ],
    tls: true,
    password: 'pw',
  });
});

const BAD_URLS = [
  'http://redis:6379',
  'redis:/redis',
  'redis://',
  'redis://a:6379,b:6379',
  'redis://redis:99999',
  'redis://redis:0',
  'redis://redis:6379/x',
  'redis://redis:6379/0/1',
  'redis://redis:6379?family=6',
  'redis://::1:6379',
  'redis-sentinel://s1:26379,s2:26379',
  'redis-sentinel://s1:26379,,s2/mymaster',
  'redis-sentinel://s1/mymaster/0/extra',
  'redis-cluster://n1:7000/1',
  'redis-cluster://n1:7000?sentinelPassword=x',
];

test('malformed URLs are refused, and the message never shows the password', () => {
  for (const url of BAD_URLS) {
    const withPassword = url.replace('://', '://user:TOPSECRET@');
    assert.throws(() => parseRedisUrl(withPassword), RedisUrlError, url);
    try {
      parseRedisUrl(withPassword);
    } catch (error) {
      assert.doesNotMatch(String(error), /TOPSECRET/, url);
    }
  }
});

const env = (extra: Record<string, string>) => ({ OUTPOST_ENV: 'development', ...extra });

test('the configuration accepts what the connection can parse, and refuses the rest', () => {
  const good = [
    'redis://127.0.0.1:6379',
    'rediss://outpost:p%40ss@redis.example.com:6380/2',
    'redis://[::1]:6380',
    'redis-sentinel://s1:26379,s2/mymaster/1?sentinelPassword=sp',
    'rediss-cluster://:pw@node-1:7000,node-2',
  ];
  for (const url of good) {
    parseRedisUrl(url);
    assert.equal(loadConfig(env({ REDIS_URL: url })).redisUrl, url);
  }
  for (const url of BAD_URLS) {
    assert.throws(
      () => loadConfig(env({ REDIS_URL: `${url.replace('://', '://u:TOPSECRET@')}` })),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => problem.startsWith('REDIS_URL:')) &&
        !error.message.includes('TOPSECRET'),
      url,
    );
  }
});

test('a CA file is only for a TLS Redis', () => {
  assert.throws(
    () => loadConfig(env({ REDIS_URL: 'redis://redis:6379', OUTPOST_REDIS_CA_FILE: '/etc/ca.pem' })),
    /OUTPOST_REDIS_CA_FILE: is for TLS/,
  );
  loadConfig(env({ REDIS_URL: 'rediss-sentinel://s1/mymaster', OUTPOST_REDIS_CA_FILE: '/etc/ca.pem' }));
});

test('producers fail fast and workers wait, on every topology', () => {
  const standalone = parseRedisUrl('redis://redis:6379/3');
  const sentinel = parseRedisUrl('redis-sentinel://s1,s2/mymaster?sentinelPassword=sp');
  const cluster = parseRedisUrl('redis-cluster://:pw@n1:7000,n2:7001');
  assert.ok(standalone.kind === 'standalone' && sentinel.kind === 'sentinel' && cluster.kind === 'cluster');

  const producer = redisOptions(standalone, 'producer', 4_000);
  assert.equal(producer.enableOfflineQueue, false);
  assert.equal(producer.maxRetriesPerRequest, 1);
  assert.equal(producer.commandTimeout, 4_000);
  assert.equal(producer.db, 3);
  assert.equal(producer.host, 'redis');
  const worker = redisOptions(standalone, 'worker', 4_000);
  assert.equal(worker.maxRetriesPerRequest, null, 'BullMQ workers need null');
  assert.equal(worker.enableOfflineQueue, undefined);
  assert.equal(
    worker.reconnectOnError?.(new Error("READONLY You can't write against a read only replica.")),
    true,
  );
  assert.equal(worker.reconnectOnError?.(new Error('ERR wrong number of arguments')), false);

  const viaSentinel = redisOptions(sentinel, 'producer', 5_000);
  assert.deepEqual(viaSentinel.sentinels, [
    { host: 's1', port: 26379 },
    { host: 's2', port: 26379 },
  ]);
  assert.equal(viaSentinel.name, 'mymaster');
  assert.equal(viaSentinel.sentinelPassword, 'sp');
  assert.equal(viaSentinel.failoverDetector, true);
  assert.equal(viaSentinel.enableOfflineQueue, false);
  assert.equal(viaSentinel.host, undefined, 'the master is found through the sentinels');

  const clusterProducer = clusterOptions(cluster, 'producer', 5_000);
  assert.equal(clusterProducer.enableOfflineQueue, false);
  assert.equal(clusterProducer.redisOptions?.maxRetriesPerRequest, 1);
  assert.equal(clusterProducer.redisOptions?.commandTimeout, 5_000);
  assert.equal(clusterProducer.redisOptions?.password, 'pw');
  assert.equal(clusterProducer.dnsLookup, undefined);
  const clusterWorker = clusterOptions(cluster, 'worker', 5_000);
  assert.equal(clusterWorker.redisOptions?.maxRetriesPerRequest, null);
  assert.equal(clusterWorker.enableOfflineQueue, undefined);
});

test('TLS: the CA applies to sentinels too; cluster node names are kept for the certificate', () => {
  const tls = { ca: Buffer.from('a PEM bundle') };
  const sentinel = parseRedisUrl('rediss-sentinel://s1/mymaster');
  assert.ok(sentinel.kind === 'sentinel');
  const options = redisOptions(sentinel, 'worker', 5_000, tls);
  assert.equal(options.tls, tls);
  assert.equal(options.sentinelTLS, tls);
  assert.equal(options.enableTLSForSentinelMode, true);

  const cluster = parseRedisUrl('rediss-cluster://n1.redis.example:6379');
  assert.ok(cluster.kind === 'cluster');
  const clustered = clusterOptions(cluster, 'worker', 5_000, tls);
  assert.equal(clustered.redisOptions?.tls, tls);
  let resolved: string | undefined;
  clustered.dnsLookup?.('n2.redis.example', (_error, address) => {
    resolved = address;
  });
  assert.equal(resolved, 'n2.redis.example');
});

test('every Outpost key hashes to one slot', () => {
  // CRC16/XMODEM("outpost") mod 16384, the slot Redis Cluster gives {outpost}-tagged keys.
  assert.equal(OUTPOST_SLOT, 15832);
});
