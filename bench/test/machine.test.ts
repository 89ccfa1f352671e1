import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uncommittedChanges } from '../src/machine.ts';

test("a round's own results do not mark the tree as changed; code, the harness and docs do", () => {
  const porcelain = [
    ' M README.md',
    '?? bench/results/2026-11-28T22-39-backlog.json',
    ' M bench/results/findings.md',
    ' M bench/RESULTS.md',
    ' M bench/src/e2e-bench.ts',
    '?? libs/core/src/new-rule.ts',
  ].join('\n');
  assert.deepEqual(uncommittedChanges(porcelain), [
    'README.md',
    'bench/src/e2e-bench.ts',
    'libs/core/src/new-rule.ts',
  ]);
  assert.deepEqual(uncommittedChanges(''), []);
  assert.deepEqual(uncommittedChanges('?? bench/results/delivery-latest.md'), []);
});
