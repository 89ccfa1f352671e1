/**
 * Runs the reliability battery (test/reliability/**\/*.test.ts): fault, load, crash and hostile-input
 * scenarios ending with the invariant checks, and the fuzzing. By default the CI subset (also part
 * of `npm test`); OUTPOST_RELIABILITY=full runs the sizes of the issue (10,000 messages ...), with
 * room for them. Arguments narrow the run to files whose name contains one of them:
 *
 *   npm run test:reliability                      # the CI subset, 1-5 minutes on 2 cores
 *   OUTPOST_RELIABILITY=full npm run test:reliability
 *   npm run test:reliability -- crash fuzz        # only crash-*.test.ts and fuzz.test.ts
 *   OUTPOST_FUZZ_RUNS=200000 npm run test:reliability -- fuzz
 */
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { isRedisServerInstalled, REDIS_MISSING_MESSAGE } from '@outpost/testing';

/** Read by name: these settings only shape the test run, turbo need not know them. */
const setting = (name: string): string | undefined => process.env[name];
const full = setting('OUTPOST_RELIABILITY') === 'full';
const filters = process.argv.slice(2);
const files = globSync('test/reliability/**/*.test.ts')
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

if (files.length === 0) {
  process.stderr.write(`no reliability test file matches ${filters.join(', ')}\n`);
  process.exit(1);
}
if (!isRedisServerInstalled()) {
  process.stderr.write(`\nCannot run the reliability battery:\n\n${REDIS_MISSING_MESSAGE}\n\n`);
  process.exit(1);
}

// One file at a time in full mode (each loads the machine on its own); two in the CI subset,
// as `npm test` does. A file's scenarios share nothing with another's (own Redis, own ports).
const concurrency = full ? 1 : 2;
const timeoutMs = full ? 30 * 60_000 : 120_000;
process.stdout.write(
  `reliability battery: ${files.length} file(s), ${full ? 'full sizes' : 'CI subset'}, ` +
    `concurrency ${concurrency}\n`,
);
const result = spawnSync(
  process.execPath,
  // --test-force-exit: a scenario that failed half-way may leave a handle open; the file's verdict
  // is in, so its process must not hang on it.
  [
    '--test',
    '--test-force-exit',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
