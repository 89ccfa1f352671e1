/**
 * `npm run build`: Outpost's own code (services/*, libs/*) bundled into one JavaScript file,
 * dist/outpost.mjs, which the image runs. Its dependencies (bullmq, ioredis, nodemailer ...) stay in
 * node_modules and are imported from there.
 *
 * Node.js 24 runs the TypeScript sources directly (npm start, the tests), but type stripping loads a
 * WebAssembly compiler into every process and compiles each of ~200 files at start: ~33 MB more
 * resident memory per service and a slower start (bench/results/findings.md, round 8). The bundle
 * is the same code, types stripped once, ahead of time.
 *
 *   node scripts/build.ts [--out DIR] [--with-bench]
 *
 * --with-bench also bundles the benchmark's own processes that load Outpost's code (its ingest
 * entry and the workers' probe), so that the benchmark measures what a deployment runs.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

/** Only Outpost's workspaces go into the bundle; every other package is imported at run time. */
const dependenciesStayExternal: Plugin = {
  name: 'dependencies-stay-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@outpost/') ? undefined : { path: args.path, external: true },
    );
  },
};

export interface BuildOptions {
  /** The tree to build (default: this one). */
  root?: string;
  /** Where the bundles go (default: <root>/dist). */
  outDir?: string;
  withBench?: boolean;
}

/** The entry points and the file each becomes, relative to the out directory. */
function entries(withBench: boolean): Array<{ from: string; to: string }> {
  const cli = [{ from: 'services/cli/bin/outpost.ts', to: 'outpost.mjs' }];
  if (!withBench) return cli;
  return [
    ...cli,
    { from: 'bench/src/ingest-process.ts', to: 'bench/ingest-process.mjs' },
    { from: 'bench/src/worker-probe.ts', to: 'bench/worker-probe.mjs' },
  ];
}

export async function buildOutpost(options: BuildOptions = {}): Promise<string[]> {
  const root = options.root ?? ROOT;
  const outDir = options.outDir ?? join(root, 'dist');
  const written: string[] = [];
  for (const entry of entries(options.withBench ?? false)) {
    const outfile = join(outDir, entry.to);
    // Only what this build writes is replaced: other builds beside it (a benchmark's, a test's)
    // may be in use.
    for (const stale of [outfile, `${outfile}.map`]) rmSync(stale, { force: true });
    await build({
      absWorkingDir: root,
      entryPoints: [join(root, entry.from)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      // Stack traces name the bundle's lines; NODE_OPTIONS=--enable-source-maps maps them to the
      // sources (dist/outpost.mjs.map).
      sourcemap: true,
      // Not keepNames: it wraps every function the code creates in a call that redefines its name,
      // 1.4% of a delivery worker's CPU (bench/results/findings.md, round 10). Unminified, a name
      // changes only where two modules share one; for classes (logs name an error by its
      // constructor) the bundle test checks that none does.
      keepNames: false,
      plugins: [dependenciesStayExternal],
      logLevel: 'warning',
    });
    written.push(outfile);
  }
  return written;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'with-bench': { type: 'boolean', default: false } },
  });
  const written = await buildOutpost({
    ...(values.out && { outDir: resolve(values.out) }),
    withBench: values['with-bench'],
  });
  for (const file of written) process.stdout.write(`built ${file}\n`);
}
