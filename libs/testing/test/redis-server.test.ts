import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { TestRedis } from '../src/index.ts';

/** Children of `pid` (pgrep -P), as numbers. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there is none
  }
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('stop() ends an AOF rewrite in progress too, and leaves no directory behind', async () => {
  const redis = await TestRedis.start();
  const client = redis.client();
  await client.mset(...Array.from({ length: 20 }, (_, i) => [`key${i}`, 'x'.repeat(100)]).flat());
  // Slow the rewrite child down (a Redis test setting, microseconds per key) so it is still running.
  await client.config('SET', 'rdb-key-save-delay', '500000');
  await client.bgrewriteaof();
  const parent = redis.pid!;
  let rewriter: number | undefined;
  for (let i = 0; i < 50 && rewriter === undefined; i++) {
    [rewriter] = childrenOf(parent);
    if (rewriter === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(rewriter, 'the AOF rewrite child is running');
  const dir = redis.dir;
  await redis.stop();
  assert.equal(isRunning(parent), false, 'redis-server ended');
  // The child goes with its parent's shutdown; give the kernel a moment to reap it.
  for (let i = 0; i < 50 && isRunning(rewriter); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(isRunning(rewriter), false, 'the rewrite child ended too');
  assert.equal(existsSync(dir), false, 'its directory is gone');
});
