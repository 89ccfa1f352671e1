/**
 * Runs every test file of the repository in one node:test run (one summary at the end).
 * `--unit` skips the integration tests (*.integration.test.ts), which start Redis and servers.
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const unitOnly = process.argv.includes('--unit');
const files = globSync([
  'libs/*/test/**/*.test.ts',
  'services/*/test/**/*.test.ts',
  'bench/test/**/*.test.ts',
  'test/**/*.test.ts',
])
  .filter((file) => !(unitOnly && file.endsWith('.integration.test.ts')))
  .sort();

if (files.length === 0) {
  process.stderr.write('no test files found\n');
  process.exit(1);
}

// Two files at a time: the machine has 2 cores, and each integration file runs its own Redis.
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
