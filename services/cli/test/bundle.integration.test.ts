import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { isBuiltin } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type OutpostProcess, spawnOutpost, submitMessage } from '@outpost/testing';
import { DeliveryWorld } from '../../delivery/test/helpers.ts';
import { deliverThroughAllInOne } from './all-in-one.ts';

// What the image runs: dist/outpost.mjs, built by scripts/build.ts. Built here into a folder of its
// own under dist/ (its dependencies resolve from the repository's node_modules, as in the image).
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

let world: DeliveryWorld;
let outDir: string;
let bundle: string;
const processes: OutpostProcess[] = [];

before(async () => {
  mkdirSync(join(REPO, 'dist'), { recursive: true });
  outDir = mkdtempSync(join(REPO, 'dist', 'test-bundle-'));
  await run(process.execPath, [join(REPO, 'scripts', 'build.ts'), '--out', outDir], { cwd: REPO });
  bundle = join(outDir, 'outpost.mjs');
  world = await DeliveryWorld.start();
});
after(async () => {
  await Promise.all(processes.map((process) => process.kill('SIGTERM')));
  await world?.stop();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

test("the bundle holds all of Outpost's own code and imports only the image's dependencies", () => {
  const text = readFileSync(bundle, 'utf8');
  // Every module the bundle loads at run time: static and dynamic imports, and require() calls (a
  // createRequire() function, which the bundler may have renamed require2).
  const patterns = [
    /^import\s[^;]*?\bfrom\s*"([^"\n]+)";/gm,
    /^import\s*"([^"\n]+)";/gm,
    /\bimport\(\s*"([^"\n]+)"\s*\)/g,
    /\brequire\d*\(\s*"([^"\n]+)"\s*\)/g,
  ];
  const specifiers = new Set(
    patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((match) => match[1]!)),
  );
  const packages = [...specifiers]
    .filter((specifier) => !isBuiltin(specifier))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
  assert.ok(packages.includes('bullmq') && packages.includes('@opentelemetry/exporter-trace-otlp-http'));
  for (const name of packages) {
    assert.ok(!name.startsWith('@outpost/'), `${name}: a workspace left as an import`);
    assert.ok(!name.startsWith('.'), `${name}: a file left as an import`);
  }
  // The image keeps only production dependencies (npm prune --omit=dev), and the bundle finds them
  // in the top-level node_modules only: each must be there, and not as a development dependency.
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  for (const name of new Set(packages)) {
    const entry = lock.packages[`node_modules/${name}`];
    assert.ok(entry, `${name} is not in the top-level node_modules`);
    assert.notEqual(entry.dev, true, `${name} is only a development dependency`);
  }
  // A workspace's own copy of a package (a version conflict) would not be seen from dist/.
  const nested = Object.entries(lock.packages).filter(
    ([path, entry]) => /^(libs|services)\/[^/]+\/node_modules\//.test(path) && entry.dev !== true,
  );
  assert.deepEqual(
    nested.map(([path]) => path),
    [],
  );
});

test("the bundle keeps the sources' class names (logs name an error by its constructor)", () => {
  // The bundle is built without keepNames: a name the bundler had to change (two modules declaring
  // the same one) would show in logs as Name2.
  const text = readFileSync(bundle, 'utf8');
  const classesIn = (source: string) =>
    [...source.matchAll(/\bclass ([A-Za-z_$][\w$]*)|\b(?:var|let|const) ([A-Za-z_$][\w$]*) = class\b/g)].map(
      (match) => (match[1] ?? match[2])!,
    );
  const sources = ['libs', 'services'].flatMap((top) =>
    readdirSync(join(REPO, top), { recursive: true, encoding: 'utf8' })
      .filter((path) => /\/(src|bin)\/.*\.ts$/.test(path) && !path.includes('node_modules'))
      .map((path) => join(REPO, top, path)),
  );
  const declared = new Set(sources.flatMap((path) => classesIn(readFileSync(path, 'utf8'))));
  const bundled = new Set(classesIn(text));
  assert.ok(bundled.has('ApiError') && bundled.has('QueryApiError') && bundled.has('JobTakenOverError'));
  for (const name of bundled)
    assert.ok(declared.has(name), `class ${name} in the bundle: renamed by the bundler`);
});

test('ingest from the bundle: two processes (cluster mode), and traces exported over OTLP', async () => {
  let spans = 0;
  const sink = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      spans += body.split('"spanId"').length - 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  try {
    const ingest = spawnOutpost(
      'ingest',
      world.env({
        LOG_LEVEL: 'info',
        OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
        OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
        OUTPOST_INGEST_PROCESSES: '2',
        OUTPOST_SHUTDOWN_GRACE: '5s',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      }),
      { cli: bundle },
    );
    processes.push(ingest);
    const deadline = Date.now() + 15_000;
    const listening = () => ingest.logs.filter((line) => line.msg === 'ingest listening');
    while (listening().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(listening().length, 2, 'two ingest processes listening');
    assert.notEqual(listening()[0]!.pid, listening()[1]!.pid);
    const result = await submitMessage({
      port: (listening()[0]!.smtp as { port: number }).port,
      from: 'alice@example.com',
      to: ['frank@elsewhere.test'],
      message: 'Subject: traced\r\n\r\nHi.\r\n',
    });
    assert.match(result.response, /^250 /);
    // A graceful stop flushes the exporters' batches.
    assert.equal(await ingest.kill('SIGTERM'), 0);
    assert.ok(spans > 0, 'the exporter loaded from the bundle sent the ingest spans');
  } finally {
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  }
});

test('outpost all, run from the bundle, delivers a message and serves the operators page', async () => {
  const { queryPort } = await deliverThroughAllInOne(world, processes, {
    receiverAddress: '127.0.0.4',
    domain: 'bundle.test',
    cli: bundle,
  });
  // The page's files are found from the bundle too (they are not beside it).
  const page = await fetch(`http://127.0.0.1:${queryPort}/ui/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const script = await fetch(`http://127.0.0.1:${queryPort}/ui/app.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
});
