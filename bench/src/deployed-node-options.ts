import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Node flags the image runs every Outpost process with (`ENV NODE_OPTIONS` in
 * deploy/docker/Dockerfile): the benchmark runs its processes with the same, so that their RSS is
 * the one a deployment sees (none when the tree's image sets none). BENCH_NODE_ARGS / BENCH_WORKER_NODE_ARGS come after and win.
 */
export function deployedNodeOptions(codeRoot: string): string[] {
  const dockerfile = readFileSync(join(codeRoot, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  const match = dockerfile.match(/^ENV NODE_OPTIONS="([^"]*)"$/m);
  // An older tree (compared with --code-root) ran with Node's defaults.
  return (match?.[1] ?? '').split(' ').filter(Boolean);
}

/**
 * The flags a benchmarked Outpost process runs with: the image's, then the operator's own for that
 * kind of process (BENCH_NODE_ARGS for ingest, BENCH_WORKER_NODE_ARGS for delivery workers), which
 * come later and so win.
 */
export function benchNodeArgs(codeRoot: string, kind: 'ingest' | 'worker'): string[] {
  const extra = process.env[kind === 'ingest' ? 'BENCH_NODE_ARGS' : 'BENCH_WORKER_NODE_ARGS'] ?? '';
  return [...deployedNodeOptions(codeRoot), ...extra.split(' ').filter(Boolean)];
}
