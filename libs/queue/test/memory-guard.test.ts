import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Redis } from 'ioredis';
import { MemoryGuard, queuedFootprint } from '../src/memory-guard.ts';

/** A Redis whose INFO memory says what the test wants. */
function fakeRedis(memory: { used: number; max: number }): Redis {
  return {
    info: async () => `# Memory\r\nused_memory:${memory.used}\r\nmaxmemory:${memory.max}\r\n`,
  } as unknown as Redis;
}

test('writes between two INFO polls count against the high-water mark: a burst cannot run past it', async () => {
  const memory = { used: 600, max: 1_000 };
  const guard = new MemoryGuard(fakeRedis(memory), { kind: 'percent', value: 80 });
  await guard.refresh();
  assert.deepEqual(guard.state, { usedBytes: 600, limitBytes: 800, full: false });
  assert.equal(guard.tryReserve(150), true);
  assert.equal(guard.tryReserve(100), false, '600 + 150 + 100 would pass the 800 mark');
  assert.equal(guard.tryReserve(50), true, 'exactly at the mark');
  assert.deepEqual(guard.state, { usedBytes: 800, limitBytes: 800, full: true });

  // A failed write gives its room back.
  guard.release(50);
  assert.equal(guard.state.full, false);

  // The next poll sees the writes: what it counts is no longer pending.
  memory.used = 750;
  await guard.refresh();
  assert.deepEqual(guard.state, { usedBytes: 750, limitBytes: 800, full: false });
});

test('without a limit to apply a percentage to, every write is admitted', async () => {
  const guard = new MemoryGuard(fakeRedis({ used: 5_000, max: 0 }), { kind: 'percent', value: 80 });
  await guard.refresh();
  assert.equal(guard.tryReserve(1_000_000), true);
  assert.equal(guard.state.full, false);
});

test('a byte mark applies whatever maxmemory says', async () => {
  const guard = new MemoryGuard(fakeRedis({ used: 900, max: 0 }), { kind: 'bytes', value: 1_000 });
  await guard.refresh();
  assert.equal(guard.tryReserve(queuedFootprint(100)), false, 'a message takes more than its size');
  assert.equal(guard.tryReserve(100), true);
});
