import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Node flags a deployment runs an Outpost service with: the service's own `NODE_OPTIONS` in
 * docker-compose.yml when it sets one (the delivery workers do), else the image's (`ENV
 * NODE_OPTIONS` in deploy/docker/Dockerfile). The benchmark runs its processes with the same, so
 * that their RSS and GC are the ones a deployment sees (none when the tree sets none).
 */
export function deployedNodeOptions(codeRoot: string, service: 'ingest' | 'delivery'): string[] {
  const compose = readFileSync(join(codeRoot, 'docker-compose.yml'), 'utf8');
  const dockerfile = readFileSync(join(codeRoot, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  // A service without its own NODE_OPTIONS runs with the image's (or, in a tree without, Node's defaults).
  const options =
    serviceNodeOptions(compose, service) ?? dockerfile.match(/^ENV NODE_OPTIONS="([^"]*)"$/m)?.[1];
  return (options ?? '').split(' ').filter(Boolean);
}

/**
 * `NODE_OPTIONS` from a service's environment in docker-compose.yml: the lines indented under
 * `  <service>:` up to the next service. (test/deploy.test.ts checks it against a YAML parser.)
 */
export function serviceNodeOptions(composeText: string, service: string): string | undefined {
  const block = composeText.match(new RegExp(`^  ${service}:\\n((?:(?: {4}.*)?\\n)*)`, 'm'))?.[1];
  return block?.match(/^ +NODE_OPTIONS: *"?([^"\n]*?)"? *$/m)?.[1];
}

/**
 * The environment the image sets for the allocator (`ENV MALLOC_*` in deploy/docker/Dockerfile):
 * the benchmark's Outpost processes get the same, for the same RSS.
 */
export function deployedEnvironment(codeRoot: string): Record<string, string> {
  const dockerfile = readFileSync(join(codeRoot, 'deploy', 'docker', 'Dockerfile'), 'utf8');
  return Object.fromEntries(
    [...dockerfile.matchAll(/^ENV (MALLOC_[A-Z_]+)=(\S+)$/gm)].map((match) => [match[1]!, match[2]!]),
  );
}

/**
 * The flags a benchmarked Outpost process runs with: the deployment's for that service, then the
 * operator's own for that kind of process (BENCH_NODE_ARGS for ingest, BENCH_WORKER_NODE_ARGS for
 * delivery workers), which come later and so win.
 */
export function benchNodeArgs(codeRoot: string, kind: 'ingest' | 'worker'): string[] {
  const extra = process.env[kind === 'ingest' ? 'BENCH_NODE_ARGS' : 'BENCH_WORKER_NODE_ARGS'] ?? '';
  return [
    ...deployedNodeOptions(codeRoot, kind === 'ingest' ? 'ingest' : 'delivery'),
    ...extra.split(' ').filter(Boolean),
  ];
}
