import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newMessageId, prepareMessage } from '@outpost/core';
import { freePort, isRedisServerInstalled, REDIS_MISSING_MESSAGE, redisServerBinary } from '@outpost/testing';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  assertNoEviction,
  createFlowMessageWriter,
  createRedisConnection,
  isSoloDeliveryJob,
  OUTPOST_SLOT,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  resolveDurability,
  waitForRedis,
} from '../src/index.ts';

/**
 * Outpost against Redis beyond one server: Sentinel (with a failover), Cluster (three primaries)
 * and TLS with a private CA, each made of throwaway redis-server processes on loopback.
 */

if (!isRedisServerInstalled()) throw new Error(REDIS_MISSING_MESSAGE);

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function workDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-topology-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A redis-server (or sentinel) on `port` that answers PING, killed after the tests. */
async function startRedisServer(
  args: string[],
  port: number,
  tls?: { caFile: string },
): Promise<ChildProcess> {
  const child = spawn(redisServerBinary(), args, { stdio: 'ignore' });
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  cleanups.push(async () => {
    process.off('exit', reap);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`redis-server ${args.join(' ')} exited with ${child.exitCode}`);
    const probe = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(tls && { tls: { ca: readFileSync(tls.caFile) } }),
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return child;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await sleep(50);
  }
  throw new Error(`redis-server on ${port} did not answer`);
}

/** The settings Outpost insists on: AOF fsync per write, noeviction. */
const durableArgs = (port: number, dir: string) => [
  '--port', String(port),
  '--bind', '127.0.0.1',
  '--dir', dir,
  '--save', '',
  '--appendonly', 'yes',
  '--appendfsync', 'always',
  '--maxmemory-policy', 'noeviction',
  '--daemonize', 'no',
  '--logfile', join(dir, 'redis.log'),
]; // biome-ignore format: one option per line pair

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
}

function testMessage(domains: string[]) {
  const now = Date.now();
  return prepareMessage({
    id: newMessageId(now),
    sender: 'alice@example.com',
    recipients: domains.map((domain) => ({ address: `bob@${domain}` })),
    dsn: {},
    raw: Buffer.from('From: alice@example.com\r\nSubject: topology\r\n\r\nHello.\r\n'),
    client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
    hostname: 'outpost.test',
    now,
    lifetimeMs: 86_400_000,
  });
}

/**
 * Ingest's side (a producer connection, the flow writer) and delivery's side (a worker connection,
 * BullMQ workers for the delivery and message queues) over one REDIS_URL: `send` stores a message
 * of one delivery job per domain; `finished` sees the message job run after all of them.
 */
async function startOutpostSides(url: string) {
  const producer = createRedisConnection(url, 'producer');
  const consumer = createRedisConnection(url, 'worker');
  for (const connection of [producer, consumer]) connection.on('error', () => {});
  await Promise.all([waitForRedis(producer), waitForRedis(consumer)]);
  await assertNoEviction(consumer);
  const durability = await resolveDurability(consumer, 'auto', false);
  const writer = createFlowMessageWriter(producer, durability);
  const delivered: string[] = [];
  const finished = new Set<string>();
  const options = { connection: consumer, prefix: QUEUE_PREFIX };
  const deliveryWorker = new Worker(
    QUEUE_NAMES.delivery,
    async (job) => {
      delivered.push(String(job.id));
      // A one-domain message is one solo job: its completion finishes the message.
      if (isSoloDeliveryJob(job.data)) finished.add(job.data.messageId);
      return { delivered: true };
    },
    options,
  );
  const messageWorker = new Worker(
    QUEUE_NAMES.message,
    async (job) => {
      finished.add(String(job.id));
    },
    options,
  );
  for (const worker of [deliveryWorker, messageWorker]) worker.on('error', () => {});
  return {
    producer,
    consumer,
    durability,
    delivered,
    async roundTrip(domains: string[]): Promise<string> {
      const message = testMessage(domains);
      await writer.write(message);
      await eventually(`message ${message.id} finished`, async () => finished.has(message.id) || undefined);
      return message.id;
    },
    async close() {
      await Promise.all([deliveryWorker.close(), messageWorker.close()]);
      await writer.close();
      await Promise.all([producer.quit().catch(() => {}), consumer.quit().catch(() => {})]);
    },
  };
}

test('Sentinel: producer and workers find the primary through Sentinel, and again after a failover', async () => {
  const [primaryDir, replicaDir, sentinelDir] = [await workDir(), await workDir(), await workDir()];
  const [primaryPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  await startRedisServer(durableArgs(primaryPort, primaryDir), primaryPort);
  await startRedisServer(
    [...durableArgs(replicaPort, replicaDir), '--replicaof', '127.0.0.1', String(primaryPort)],
    replicaPort,
  );
  const [primary, replica] = [new Redis({ port: primaryPort }), new Redis({ port: replicaPort })];
  primary.on('error', () => {}); // it may be restarted as a replica
  cleanups.push(async () => {
    primary.disconnect();
    replica.disconnect();
  });
  await eventually('the replica in sync', async () =>
    (await replica.info('replication')).includes('master_link_status:up') ? true : undefined,
  );
  // Started after the replica is attached, so its first INFO of the primary lists the replica.
  const sentinelConf = join(sentinelDir, 'sentinel.conf');
  await writeFile(
    sentinelConf,
    [
      `port ${sentinelPort}`,
      'bind 127.0.0.1',
      `dir ${sentinelDir}`,
      `logfile ${join(sentinelDir, 'sentinel.log')}`,
      `sentinel monitor outpost 127.0.0.1 ${primaryPort} 1`,
      'sentinel down-after-milliseconds outpost 2000',
      'sentinel failover-timeout outpost 10000',
      '',
    ].join('\n'),
  );
  await startRedisServer([sentinelConf, '--sentinel'], sentinelPort);
  const sentinel = new Redis({ port: sentinelPort, lazyConnect: true });
  await sentinel.connect();
  cleanups.push(async () => void sentinel.disconnect());
  const primaryNow = async () =>
    Number(((await sentinel.call('SENTINEL', 'get-master-addr-by-name', 'outpost')) as string[])[1]);
  await eventually('Sentinel knows the replica', async () =>
    ((await sentinel.call('SENTINEL', 'replicas', 'outpost')) as unknown[]).length === 1 ? true : undefined,
  );

  const sides = await startOutpostSides(`redis-sentinel://127.0.0.1:${sentinelPort}/outpost`);
  try {
    assert.equal(sides.durability, 'fsync', 'the primary fsyncs every write');
    await sides.roundTrip(['a.example', 'b.example']);
    assert.equal(sides.delivered.length, 2);

    await sentinel.call('SENTINEL', 'failover', 'outpost');
    await eventually('Sentinel to name the replica primary', async () =>
      (await primaryNow()) === replicaPort ? true : undefined,
    );
    // Sentinel announces +switch-master and every Outpost connection moves to the new primary
    // (the old one still takes writes until Sentinel reconfigures it: see docs/operations.md).
    await eventually('Outpost connected to the new primary only', async () => {
      const names = async (client: Redis) =>
        String(await client.call('CLIENT', 'LIST')).match(/name=outpost-\w+/g) ?? ([] as string[]);
      const [onNew, onOld] = [await names(replica), await names(primary)];
      return onNew.includes('name=outpost-producer') &&
        onNew.includes('name=outpost-worker') &&
        onOld.length === 0
        ? true
        : undefined;
    });
    const afterFailover = await sides.roundTrip(['c.example']);
    assert.equal(sides.delivered.length, 3);
    assert.ok(sides.delivered.some((id) => id.startsWith(afterFailover)));
    assert.equal(((await replica.call('ROLE')) as string[])[0], 'master');
  } finally {
    await sides.close();
  }
});

test('Cluster: every queue key in one slot; flows, workers, INFO and SCAN on the slot owner', async () => {
  const nodes: Array<{ port: number; client: Redis }> = [];
  for (let i = 0; i < 3; i++) {
    const dir = await workDir();
    const [port, busPort] = [await freePort(), await freePort()];
    await startRedisServer(
      [
        ...durableArgs(port, dir),
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-port', String(busPort),
        '--cluster-node-timeout', '2000',
      ], // biome-ignore format: one option per line pair
      port,
    );
    const client = new Redis({ port, lazyConnect: true });
    await client.connect();
    cleanups.push(async () => void client.disconnect());
    nodes.push({ port, client });
  }
  const create = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-yes'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  assert.equal(create.status, 0, create.stdout + create.stderr);
  for (const node of nodes) {
    await eventually('cluster_state:ok', async () =>
      String(await node.client.call('CLUSTER', 'INFO')).includes('cluster_state:ok') ? true : undefined,
    );
  }
  assert.equal(Number(await nodes[0]!.client.call('CLUSTER', 'KEYSLOT', QUEUE_PREFIX)), OUTPOST_SLOT);
  const slots = (await nodes[0]!.client.call('CLUSTER', 'SLOTS')) as Array<
    [number, number, [string, number]]
  >;
  const ownerPort = slots.find(([from, to]) => from <= OUTPOST_SLOT && OUTPOST_SLOT <= to)?.[2][1];
  const owner = nodes.find((node) => node.port === Number(ownerPort));
  assert.ok(owner, 'one primary serves the {outpost} slot');

  // Two seed nodes are enough: the client learns the rest from the cluster.
  const url = `redis-cluster://127.0.0.1:${nodes[0]!.port},127.0.0.1:${nodes[1]!.port}`;
  const sides = await startOutpostSides(url);
  try {
    assert.equal(sides.durability, 'fsync');
    await sides.roundTrip(['a.example', 'b.example', 'c.example']);
    assert.equal(sides.delivered.length, 3);

    // Every Outpost key is on the slot owner; the other primaries hold nothing.
    for (const node of nodes) {
      const keys = Number(await node.client.dbsize());
      if (node === owner) assert.ok(keys > 0, 'the owner holds the queues');
      else assert.equal(keys, 0, `node ${node.port} holds no Outpost key`);
    }
    // Commands without a key go to the owner, not to a random node (1 in 3^20 by chance).
    const ownerId = (await owner.client.info('server')).match(/run_id:(\w+)/)?.[1];
    for (let i = 0; i < 20; i++) {
      assert.equal((await sides.consumer.info('server')).match(/run_id:(\w+)/)?.[1], ownerId);
    }
    const [, found] = await sides.consumer.scan('0', 'MATCH', `${QUEUE_PREFIX}:*`, 'COUNT', 1000);
    assert.ok(found.length > 0, 'SCAN sees the queue keys');
  } finally {
    await sides.close();
  }
});

test('TLS: rediss:// is trusted with OUTPOST_REDIS_CA_FILE, and refused without it', async (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) return t.skip('openssl is not installed');
  const dir = await workDir();
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Outpost test CA',
  );
  openssl('req', ...ec, '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'redis.pem', '-days', '2', '-extfile', 'san.ext',
  ); // biome-ignore format: openssl's argument pairs
  const port = await freePort();
  await startRedisServer(
    [
      ...durableArgs(0, dir),
      '--tls-port', String(port),
      '--tls-cert-file', join(dir, 'redis.pem'),
      '--tls-key-file', join(dir, 'redis.key'),
      '--tls-ca-cert-file', join(dir, 'ca.pem'),
      '--tls-auth-clients', 'no',
    ], // biome-ignore format: one option per line pair
    port,
    { caFile: join(dir, 'ca.pem') },
  );

  const trusted = createRedisConnection(`rediss://127.0.0.1:${port}`, 'producer', 5_000, join(dir, 'ca.pem'));
  trusted.on('error', () => {});
  await waitForRedis(trusted);
  assert.equal(await trusted.ping(), 'PONG');
  trusted.disconnect();

  const untrusted = createRedisConnection(`rediss://127.0.0.1:${port}`, 'producer', 5_000, '');
  const refusal = new Promise<Error>((resolve) => untrusted.once('error', resolve));
  assert.match(String(await refusal), /self[- ]signed|unable to verify|certificate/i);
  untrusted.disconnect();
});
