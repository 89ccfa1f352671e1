import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, redisServerBinary, TestRedis } from '@outpost/testing';
import { Redis } from 'ioredis';
import {
  clusterOptions,
  createRedisConnection,
  keylessCommands,
  OUTPOST_SLOT,
  parseRedisUrl,
  QUEUE_PREFIX,
  redisOptions,
  waitForRedis,
} from '../src/index.ts';

/**
 * The auto-pipelining connection feature (for Outpost's own commands, never BullMQ's): commands of
 * one event-loop turn share one write, on one server, through Sentinel and on a Cluster, where
 * commands without a key still go to the {outpost} slot's primary.
 */

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('the feature is off unless asked for, and on a cluster keyless commands stay out of it', () => {
  const standalone = parseRedisUrl('redis://127.0.0.1:6379');
  const sentinel = parseRedisUrl('redis-sentinel://s1,s2/mymaster');
  const cluster = parseRedisUrl('redis-cluster://n1:7000,n2:7001');
  assert.ok(standalone.kind === 'standalone' && sentinel.kind === 'sentinel' && cluster.kind === 'cluster');

  assert.equal(redisOptions(standalone, 'worker', 5_000).enableAutoPipelining, undefined);
  assert.equal(clusterOptions(cluster, 'worker', 5_000).enableAutoPipelining, undefined);
  const features = { autoPipelining: true };
  assert.equal(redisOptions(standalone, 'worker', 5_000, undefined, features).enableAutoPipelining, true);
  const viaSentinel = redisOptions(sentinel, 'worker', 5_000, undefined, features);
  assert.equal(viaSentinel.enableAutoPipelining, true);
  assert.equal(viaSentinel.failoverDetector, true, 'the Sentinel options are kept');
  assert.equal(viaSentinel.maxRetriesPerRequest, null, 'the role options are kept');

  const clustered = clusterOptions(cluster, 'worker', 5_000, undefined, features);
  assert.equal(clustered.enableAutoPipelining, true);
  assert.equal(clustered.redisOptions?.maxRetriesPerRequest, null);
  const ignored = clustered.autoPipeliningIgnoredCommands ?? [];
  for (const name of ['ping', 'info', 'scan', 'waitaof', 'dbsize', 'eval', 'evalsha'])
    assert.ok(ignored.includes(name), `${name} is not auto-pipelined`);
  for (const name of ['get', 'set', 'mget', 'exists', 'zadd', 'hset', 'smembers', 'incr', 'del'])
    assert.ok(!ignored.includes(name), `${name} is auto-pipelined`);
  assert.deepEqual(keylessCommands(), ignored);
});

/** How many times the connection writes to its socket while `work` runs. */
async function socketWrites(redis: Redis, work: () => Promise<unknown>): Promise<number> {
  const stream = (redis as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream;
  const write = stream.write;
  let writes = 0;
  stream.write = (...args: unknown[]) => {
    writes++;
    return write.apply(stream, args);
  };
  try {
    await work();
  } finally {
    stream.write = write;
  }
  return writes;
}

test('one server: the commands of one event-loop turn go out in one write, with their own replies', async () => {
  const server = await TestRedis.start({ appendonly: false });
  cleanups.push(() => server.stop());
  const pipelined = createRedisConnection(server.url, 'worker', 5_000, undefined, { autoPipelining: true });
  const plain = createRedisConnection(server.url, 'worker');
  cleanups.push(async () => {
    pipelined.disconnect();
    plain.disconnect();
  });
  await Promise.all([waitForRedis(pipelined), waitForRedis(plain)]);
  const keys = Array.from({ length: 20 }, (_, i) => `${QUEUE_PREFIX}:autopipe:${i}`);
  await plain.mset(...keys.flatMap((key, i) => [key, `value ${i}`]));

  let values: Array<string | null> = [];
  const together = await socketWrites(pipelined, async () => {
    values = await Promise.all(keys.map((key) => pipelined.get(key)));
  });
  assert.equal(together, 1);
  assert.deepEqual(
    values,
    keys.map((_, i) => `value ${i}`),
  );
  // The same without the feature: a write per command.
  const apart = await socketWrites(plain, () => Promise.all(keys.map((key) => plain.get(key))));
  assert.equal(apart, keys.length);

  // A failing command fails alone; the others in its write get their replies.
  const [ok, failed] = await Promise.allSettled([
    pipelined.get(keys[0]!),
    pipelined.hget(keys[1]!, 'field'), // a string, not a hash: WRONGTYPE
  ]);
  assert.deepEqual(ok, { status: 'fulfilled', value: 'value 0' });
  assert.match(String(failed.status === 'rejected' && failed.reason), /WRONGTYPE/);
});

test('Cluster: auto-pipelined commands reach the {outpost} slot, and keyless ones its primary', async (t) => {
  if (spawnSync('redis-cli', ['--version']).status !== 0) return t.skip('redis-cli is not installed');
  const nodes: Array<{ port: number; client: Redis }> = [];
  for (let i = 0; i < 3; i++) nodes.push(await startClusterNode());
  const create = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-yes'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(create.status, 0, create.stdout + create.stderr);
  for (const node of nodes) {
    await eventually(async () =>
      String(await node.client.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
    );
  }
  const slots = (await nodes[0]!.client.call('CLUSTER', 'SLOTS')) as Array<
    [number, number, [string, number]]
  >;
  const ownerPort = slots.find(([from, to]) => from <= OUTPOST_SLOT && OUTPOST_SLOT <= to)?.[2][1];
  const owner = nodes.find((node) => node.port === Number(ownerPort));
  assert.ok(owner, 'one primary serves the {outpost} slot');

  const url = `redis-cluster://127.0.0.1:${nodes[0]!.port},127.0.0.1:${nodes[1]!.port}`;
  const cluster = createRedisConnection(url, 'worker', 5_000, undefined, { autoPipelining: true });
  cluster.on('error', () => {});
  cleanups.push(async () => void cluster.disconnect());
  await waitForRedis(cluster);

  const keys = Array.from({ length: 20 }, (_, i) => `${QUEUE_PREFIX}:autopipe:${i}`);
  await Promise.all(keys.map((key, i) => cluster.set(key, String(i))));
  assert.deepEqual(
    await Promise.all(keys.map((key) => cluster.get(key))),
    keys.map(String).map((_, i) => `${i}`),
  );
  for (const node of nodes) {
    const stored = Number(await node.client.dbsize());
    assert.equal(stored, node === owner ? keys.length : 0, `keys on node ${node.port}`);
  }
  // Issued in the same turn as keyed commands, keyless ones still go to the owner.
  const ownerId = (await owner.client.info('server')).match(/run_id:(\w+)/)?.[1];
  const [, infos, scans] = await Promise.all([
    Promise.all(keys.map((key) => cluster.get(key))),
    Promise.all(Array.from({ length: 10 }, () => cluster.info('server'))),
    Promise.all(
      Array.from({ length: 10 }, () =>
        cluster.scan('0', 'MATCH', `${QUEUE_PREFIX}:autopipe:*`, 'COUNT', 100),
      ),
    ),
  ]);
  for (const info of infos) assert.equal(info.match(/run_id:(\w+)/)?.[1], ownerId);
  for (const [, found] of scans) assert.equal(found.length, keys.length, 'SCAN ran on the owner');
  assert.equal(await cluster.dbsize(), keys.length, 'DBSIZE counted the owner');
});

async function startClusterNode(): Promise<{ port: number; client: Redis }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-autopipe-'));
  const [port, busPort] = [await freePort(), await freePort()];
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, 'nodes.conf'),
    '--cluster-port', String(busPort),
    '--cluster-node-timeout', '2000',
  ]; // biome-ignore format: one option per line pair
  const child: ChildProcess = spawn(redisServerBinary(), args, { stdio: 'ignore' });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const client = new Redis({ port, lazyConnect: true, retryStrategy: () => 100 });
  client.on('error', () => {});
  cleanups.push(async () => {
    client.disconnect();
    process.off('exit', reap);
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (client.status === 'wait') await client.connect();
    return (await client.ping()) === 'PONG';
  });
  return { port, client };
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}
