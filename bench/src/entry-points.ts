/**
 * The programs the benchmark runs Outpost with: what the image runs (the bundle scripts/build.ts
 * makes, dist/outpost.mjs), and the benchmark's own ingest entry and worker probe bundled the same
 * way, so that a process's memory and start are a deployment's, without TypeScript's type
 * stripping. Built once per benchmark process and tree (the working tree, or its --snapshot copy),
 * with `scripts/build.ts --with-bench`, into a folder of its own under <tree>/dist/ (removed when
 * the benchmark exits), so that a build or another benchmark on the same tree cannot replace the
 * programs a run is starting.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface EntryPoints {
  /** `outpost` (its verbs: delivery ...). */
  cli: string;
  /** bench/src/ingest-process.ts, bundled. */
  ingest: string;
  /** bench/src/worker-probe.ts, bundled (loaded into each worker with --import). */
  probe: string;
}

const built = new Map<string, Promise<EntryPoints>>();

export function entryPoints(codeRoot: string): Promise<EntryPoints> {
  let entries = built.get(codeRoot);
  if (!entries) {
    entries = build(codeRoot);
    built.set(codeRoot, entries);
  }
  return entries;
}

async function build(codeRoot: string): Promise<EntryPoints> {
  const script = join(codeRoot, 'scripts', 'build.ts');
  mkdirSync(join(codeRoot, 'dist'), { recursive: true });
  const out = mkdtempSync(join(codeRoot, 'dist', 'bench-build-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, [script, '--with-bench', '--out', out], { cwd: codeRoot });
  return {
    cli: join(out, 'outpost.mjs'),
    ingest: join(out, 'bench', 'ingest-process.mjs'),
    probe: join(out, 'bench', 'worker-probe.mjs'),
  };
}
