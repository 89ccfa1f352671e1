import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type OutpostProcess, spawnOutpost, submitMessage } from '@outpost/testing';
import { DeliveryWorld } from '../../delivery/test/helpers.ts';

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

test("the bundle holds all of Outpost's own code and imports only its dependencies", () => {
  const text = readFileSync(bundle, 'utf8');
  assert.doesNotMatch(text, /from ["']@outpost\//, 'a workspace left as an import');
  assert.doesNotMatch(text, /from ["'][^"']+\.ts["']/, 'a TypeScript file left as an import');
  assert.match(text, /from "bullmq"/);
});

test('outpost all, run from the bundle, delivers a message and serves the operators page', async () => {
  const receiver = await world.receiver('127.0.0.4');
  world.mx('bundle.test', [{ name: 'mx.bundle.test', priority: 10, a: ['127.0.0.4'] }]);
  const all = spawnOutpost(
    'all',
    world.env({
      LOG_LEVEL: 'info',
      OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
      OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
      OUTPOST_TRACE_QUERY_LISTEN: '127.0.0.1:0',
    }),
    { cli: bundle },
  );
  processes.push(all);
  const ready = await all.waitForLog((line) => line.msg === 'ingest listening');
  await all.waitForLog((line) => line.msg === 'delivery running');
  const query = await all.waitForLog((line) => line.msg === 'trace-query running');
  const result = await submitMessage({
    port: (ready.smtp as { port: number }).port,
    from: 'alice@example.com',
    to: ['erin@bundle.test'],
    message: 'Subject: from the bundle\r\n\r\nHi.\r\n',
  });
  assert.match(result.response, /^250 /);
  const [received] = await receiver.waitForMessages(1, 15_000);
  assert.deepEqual(received!.to, ['erin@bundle.test']);
  assert.match(received!.data.toString(), /\r\nSubject: from the bundle\r\n/);

  // The page's files are found from the bundle too (they are not beside it).
  const { port } = query.http as { port: number };
  const page = await fetch(`http://127.0.0.1:${port}/ui/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const script = await fetch(`http://127.0.0.1:${port}/ui/app.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
});
