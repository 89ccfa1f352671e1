import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  bullmq: string;
  smtpServer: string;
  /** Where the throwaway Redis keeps its AOF, and that directory's filesystem. */
  redisDir: string;
  gitCommit: string;
  /** Paths outside bench/ that differ from the commit (git status), at the start. */
  uncommittedPaths: string[];
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * A hash of the code under test: the sources of every library and service (not tests, not the
 * benchmark) and the lockfile. Each run starts a fresh ingest process that loads them anew, so
 * if someone edits them mid-benchmark the runs no longer measure the same thing; this shows it.
 */
export function sourceFingerprint(root: string = REPO_ROOT): string {
  const hash = createHash('sha256');
  const roots = ['libs', 'services'].flatMap((group) =>
    readdirSync(join(root, group)).map((name) => join(root, group, name, 'src')),
  );
  const files = [...roots.flatMap(filesUnder), join(root, 'package-lock.json')].sort();
  for (const file of files) {
    hash.update(relative(root, file));
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 12);
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: REPO_ROOT });
  // trimEnd: the first line of `git status --porcelain` may start with a space.
  return result.status === 0 ? result.stdout.trimEnd() : '';
}

/** The version of `name` as `fromPackage` resolves it (node_modules lookup, walking up). */
function packageVersion(name: string, fromPackage: string): string {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve(fromPackage));
    for (;;) {
      const path = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
      const parent = dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  } catch {
    return 'unknown';
  }
}

/**
 * The paths `git status --porcelain` lists, but the benchmark's own output (bench/results/,
 * bench/RESULTS.md): a round's results are uncommitted while it runs, and do not change what runs.
 */
export function uncommittedChanges(porcelain: string): string[] {
  return porcelain
    .split('\n')
    .map((line) => line.slice(3))
    .filter((path) => path !== '' && !path.startsWith('bench/results/') && path !== 'bench/RESULTS.md');
}

/** With `measuredCommit` (a run `--at` that commit) the code measured is that commit's, unchanged. */
export function machineInfo(redisVersion: string, measuredCommit?: string): MachineInfo {
  const cpuList = cpus();
  const status = measuredCommit ? '' : run('git', ['status', '--porcelain']);
  const dirty = uncommittedChanges(status).length === 0 ? '' : ' (with uncommitted changes)';
  const filesystem = run('df', ['--output=fstype', tmpdir()]).split('\n').at(-1) ?? '?';
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    redis: redisVersion,
    bullmq: packageVersion('bullmq', '@outpost/queue'),
    smtpServer: packageVersion('smtp-server', '@outpost/ingest'),
    redisDir: `${tmpdir()} (${filesystem})`,
    gitCommit: measuredCommit
      ? measuredCommit.slice(0, 7)
      : `${run('git', ['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty}`,
    uncommittedPaths: uncommittedChanges(status).filter((path) => !path.startsWith('bench/')),
  };
}
