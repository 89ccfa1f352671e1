import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGroupCommit } from '../src/group-commit.ts';

test('a lone item is written at once; items arriving during a write go together in the next batch', async () => {
  const batches: number[][] = [];
  let release: () => void = () => {};
  const commit = createGroupCommit<number>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
  });
  const first = commit(1);
  await new Promise((resolve) => setImmediate(resolve));
  const rest = [2, 3, 4].map((item) => commit(item));
  assert.deepEqual(batches, [[1]], 'the first write started alone');
  release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
});

test('a failed batch rejects its own items only, and the batch size is bounded', async () => {
  const batches: string[][] = [];
  let release: () => void = () => {};
  const commit = createGroupCommit<string>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
    if (items.includes('bad')) throw new Error('OOM');
  }, 2);
  const first = commit('a');
  await new Promise((resolve) => setImmediate(resolve));
  const second = [commit('bad'), commit('b')];
  const third = commit('c');
  release();
  await first;
  await assert.rejects(second[0]!, /OOM/);
  await assert.rejects(second[1]!, /OOM/, 'the same batch, the same fate: all or nothing');
  await third;
  assert.deepEqual(batches, [['a'], ['bad', 'b'], ['c']]);
});
