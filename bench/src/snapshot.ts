/**
 * A frozen copy of the code under test, for benchmarking a working tree that others keep editing, or
 * an earlier commit for a before/after pair (`--at`): the sources (libs, services, bench) are copied
 * (or taken from the commit with git archive) to a temporary directory, the installed packages are
 * linked, and the workspace links under node_modules/@outpost point into the copy. Those links matter:
 * a copy that linked the whole node_modules would run the working tree's libs and services.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';

const SKIPPED = new Set(['node_modules', '.git', '.turbo', 'dist']);

export interface Snapshot {
  root: string;
  remove(): void;
}

/** The full commit id `revision` (HEAD, a branch, a short id) names in the repository. */
export function resolveCommit(repoRoot: string, revision: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    throw new Error(`--at ${revision}: no such commit in ${repoRoot}`);
  }
}

/** A copy of the working tree, or with `commit` of that commit's tree. */
export function createSnapshot(repoRoot: string, commit?: string): Snapshot {
  const root = mkdtempSync(join(tmpdir(), 'outpost-bench-src-'));
  if (commit) {
    const archive = execFileSync('git', ['archive', '--format=tar', commit], {
      cwd: repoRoot,
      maxBuffer: 1 << 30,
    });
    execFileSync('tar', ['-x', '-C', root], { input: archive });
  } else {
    const results = join(repoRoot, 'bench', 'results');
    cpSync(repoRoot, root, {
      recursive: true,
      filter: (source) => {
        const path = relative(repoRoot, source);
        return !path.split(sep).some((part) => SKIPPED.has(part)) && !source.startsWith(results);
      },
    });
  }
  const modules = join(repoRoot, 'node_modules');
  mkdirSync(join(root, 'node_modules'));
  for (const name of readdirSync(modules)) {
    if (name === '@outpost') {
      // Relative links (../../libs/config) that now resolve inside the copy.
      mkdirSync(join(root, 'node_modules', name));
      for (const link of readdirSync(join(modules, name))) {
        symlinkSync(readlinkSync(join(modules, name, link)), join(root, 'node_modules', name, link));
      }
    } else {
      symlinkSync(join(modules, name), join(root, 'node_modules', name));
    }
  }
  // A workspace's own node_modules (a version that differs from the root's) stays linked as well.
  for (const group of ['libs', 'services']) {
    if (!existsSync(join(repoRoot, group))) continue;
    for (const name of readdirSync(join(repoRoot, group))) {
      const nested = join(repoRoot, group, name, 'node_modules');
      if (existsSync(nested) && existsSync(join(root, group, name)))
        symlinkSync(nested, join(root, group, name, 'node_modules'));
    }
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
