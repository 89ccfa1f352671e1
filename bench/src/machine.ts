import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

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
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : '';
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

export function machineInfo(redisVersion: string): MachineInfo {
  const cpuList = cpus();
  const dirty = run('git', ['status', '--porcelain']) === '' ? '' : ' (with uncommitted changes)';
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
    gitCommit: `${run('git', ['rev-parse', '--short', 'HEAD']) || 'unknown'}${dirty}`,
  };
}
