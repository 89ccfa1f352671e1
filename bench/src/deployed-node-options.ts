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
