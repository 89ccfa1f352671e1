import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import type { Redis } from 'ioredis';
import { MemoryGuard, parseRedisInfo, readRedisMemory } from '../src/index.ts';

/**
 * The high-water mark (452 4.3.1 at ingest) and memory relief read Redis's memory the same way, as
 * Redis counts it against maxmemory. A replica that stops reading makes the difference visible: its
 * replication buffer is in used_memory, but not in what Redis compares with maxmemory.
 */

let master: TestRedis;
let replica: TestRedis;
let admin: Redis;

/** The raw INFO figures, for the test to compute what Redis counts on its own. */
async function rawMemory(): Promise<{ used: number; notCounted: number }> {
  const info = parseRedisInfo(await admin.info('memory'));
  return { used: Number(info.used_memory), notCounted: Number(info.mem_not_counted_for_evict) };
}

before(async () => {
  master = await TestRedis.start({ appendonly: false });
  replica = await TestRedis.start({ appendonly: false });
  admin = master.client();
  // The smallest backlog: what the stalled replica has not read is counted beyond it.
  await admin.config('SET', 'repl-backlog-size', '16384');
  // The first sync starts at once rather than after the default 5 s wait for more replicas.
  await admin.config('SET', 'repl-diskless-sync-delay', '0');
  await replica.client().replicaof('127.0.0.1', master.port);
  const deadline = Date.now() + 10_000;
  while (!/state=online/.test(await admin.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the replica did not come online');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(replica.pid!, 'SIGSTOP');
  for (let i = 0; i < 128; i++) await admin.set(`fill:${i}`, 'x'.repeat(64 * 1024));
});
after(async () => {
  if (replica?.pid) process.kill(replica.pid, 'SIGCONT');
  await replica?.stop();
  await master?.stop();
});

/** Runs `read` between two identical raw readings, so that both saw the same memory. */
async function readBetweenStable<T>(
  read: () => Promise<T>,
): Promise<{ raw: { used: number; notCounted: number }; value: T }> {
  for (let tries = 0; tries < 20; tries++) {
    const before = await rawMemory();
    const value = await read();
    const afterwards = await rawMemory();
    if (before.used === afterwards.used && before.notCounted === afterwards.notCounted)
      return { raw: before, value };
  }
  throw new Error('Redis memory did not stay still for one reading');
}

test('the guard counts what Redis counts against maxmemory, the same figure as readRedisMemory', async () => {
  const guard = new MemoryGuard(admin, { kind: 'percent', value: 80 });
  const { raw, value } = await readBetweenStable(async () => ({
    state: await guard.refresh(),
    memory: await readRedisMemory(admin),
  }));
  assert.ok(raw.notCounted > 1024 * 1024, `the stalled replica's buffer is left out (${raw.notCounted})`);
  assert.equal(value.state.usedBytes, raw.used - raw.notCounted);
  assert.equal(
    value.memory.usedBytes,
    value.state.usedBytes,
    'one reading for the guard and for memory relief',
  );
});

test('refresh() reports full with the mark just below what Redis counts, not full just above', async () => {
  const { used, notCounted } = await rawMemory();
  const counted = used - notCounted;
  // A 50% mark of this maxmemory falls `offset` bytes from what Redis counts now.
  const guardWithMarkAt = async (offset: number) => {
    await admin.config('SET', 'maxmemory', String(2 * (counted + offset)));
    return new MemoryGuard(admin, { kind: 'percent', value: 50 }).refresh();
  };
  try {
    const below = await guardWithMarkAt(-16 * 1024);
    assert.equal(below.limitBytes, counted - 16 * 1024);
    assert.equal(below.full, true, 'at or above the mark: ingest answers 452 4.3.1');

    const above = await guardWithMarkAt(16 * 1024);
    assert.equal(above.full, false, 'below the mark: mail is taken');

    // A mark between what Redis counts and used_memory: the buffer Redis leaves out refuses no mail.
    const between = await guardWithMarkAt(Math.floor(notCounted / 2));
    assert.ok(between.limitBytes! < used, 'the mark is below used_memory');
    assert.equal(between.full, false, "the replica's buffer does not make Redis full");
  } finally {
    await admin.config('SET', 'maxmemory', '0');
  }
});
