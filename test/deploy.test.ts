import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadBounceConfig,
  loadConfig,
  loadDeliveryConfig,
  loadTraceQueryConfig,
  loadWebhookConfig,
} from '@outpost/config';
import { parse } from 'yaml';
import { deployedEnvironment, serviceNodeOptions } from '../bench/src/deployed-node-options.ts';
import { composeText, dotenvExample, interpolate } from './support/compose-file.ts';

// No Docker engine runs where the tests run, so the compose file is checked as data: the promises
// it makes about durability and startup order are asserted here.
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Record<string, unknown>>;
};
const dockerfile = readFileSync(new URL('../deploy/docker/Dockerfile', import.meta.url), 'utf8');
const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
};

test('redis runs with AOF fsync always and noeviction, on a named volume, with a healthcheck', () => {
  const redis = compose.services.redis!;
  const command = (redis.command as string[]).join(' ');
  assert.match(command, /--appendonly yes/);
  assert.match(command, /--appendfsync always/);
  assert.match(command, /--maxmemory-policy noeviction/);
  assert.match(String(redis.image), /^(redis|valkey\/valkey):\d+\.\d+\.\d+/, 'image tag pinned');
  assert.ok(redis.healthcheck);
  assert.deepEqual(redis.volumes, ['redis-data:/data']);
});

test('every Outpost service waits for a healthy redis, restarts, and checks its own health', () => {
  const outpost = Object.entries(compose.services).filter(
    ([name]) => !['redis', 'jaeger', 'mailpit'].includes(name),
  );
  assert.ok(outpost.some(([name]) => name === 'ingest'));
  for (const [name, service] of outpost) {
    assert.deepEqual(
      (service.depends_on as Record<string, unknown>).redis,
      { condition: 'service_healthy' },
      name,
    );
    assert.equal(service.restart, 'unless-stopped', name);
    assert.ok(service.healthcheck, `${name} has a healthcheck`);
    assert.equal(service.init, true, `${name} runs under an init so signals reach node`);
  }
});

test('delivery workers scale: no published ports, no container name, a stop grace above their own', () => {
  const delivery = compose.services.delivery!;
  assert.equal(delivery.ports, undefined);
  assert.equal(delivery.container_name, undefined);
  const grace = Number(String(delivery.stop_grace_period).replace(/s$/, ''));
  const own = Number(
    String((delivery.environment as Record<string, string>).OUTPOST_SHUTDOWN_GRACE).replace(/s$/, ''),
  );
  assert.ok(grace > own, `${grace}s > ${own}s`);
});

test('services without a login of their own (Jaeger, mailpit) are published on loopback only', () => {
  for (const name of ['jaeger', 'mailpit']) {
    const ports = compose.services[name]!.ports as string[];
    assert.ok(ports.length > 0, name);
    for (const port of ports) assert.match(port, /^127\.0\.0\.1:/, `${name} ${port}`);
  }
});

test('the image leaves out secrets: .env, certificates, DKIM keys', () => {
  const ignored = readFileSync(new URL('../.dockerignore', import.meta.url), 'utf8').split('\n');
  for (const entry of ['.env', 'certs', 'dkim', '**/*.pem']) assert.ok(ignored.includes(entry), entry);
});

test('traces go to a pinned Jaeger v2 over OTLP', () => {
  assert.match(String(compose.services.jaeger!.image), /^jaegertracing\/jaeger:2\.\d+\.\d+$/);
  const env = compose.services.ingest!.environment as Record<string, string>;
  assert.match(env.OTEL_EXPORTER_OTLP_ENDPOINT!, /jaeger:4318/);
});

test('the demo profile adds a catch-all server that the transport map routes a demo domain to', () => {
  const mailpit = compose.services.mailpit!;
  assert.deepEqual(mailpit.profiles, ['demo']);
  assert.match(String(mailpit.image), /^axllent\/mailpit:v\d+\.\d+\.\d+$/);
  const env = compose.services.delivery!.environment as Record<string, string>;
  assert.match(env.OUTPOST_TRANSPORT_MAP!, /demo\.outpost\.test=smtp:\/\/mailpit:1025/);
});

test('the image pins its base, runs as a non-root user and starts the outpost command', () => {
  const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((match) => match[1]);
  assert.ok(bases.length >= 2, 'multi-stage');
  for (const base of bases) assert.match(base!, /^node:24\.\d+\.\d+-/);
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, /npm ci/);
  // The bundle npm run build makes (scripts/build.ts), built after the typecheck and before the prune.
  assert.match(dockerfile, /npm run typecheck \\\n && npm run build \\\n && npm prune --omit=dev/);
  assert.match(dockerfile, /ENTRYPOINT \["node", "\/app\/dist\/outpost\.mjs"\]/);
  // `docker compose exec <service> outpost ...` finds the same program on the PATH.
  assert.match(dockerfile, /exec node \/app\/dist\/outpost\.mjs "\$@".*> \/usr\/local\/bin\/outpost/);
  assert.match(dockerfile, /chmod 755 \/usr\/local\/bin\/outpost/);
  assert.equal(packageJson.scripts.build, 'node scripts/build.ts');
});

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const OUTPOST_SERVICES = ['ingest', 'delivery', 'bounce', 'trace-query'];

/** Every variable libs/config's schemas read (their z.object keys), the OTel SDK's own, and Node's heap flags. */
const knownVariables = new Set([
  'NODE_OPTIONS',
  ...globSync('libs/config/src/*.ts', { cwd: ROOT }).flatMap((file) =>
    [...read(file).matchAll(/^\s{2,}([A-Z][A-Z0-9_]+):/gm)].map((match) => match[1]!),
  ),
  ...[...read('libs/telemetry/src/tracing.ts').matchAll(/\b(OTEL_[A-Z_]+)\b/g)].map((match) => match[1]!),
]);

/** Checks a NODE_OPTIONS value: flags Node accepts, a heap limit it applies, young-generation size set. */
function assertHeapFlags(options: string, where: string): number {
  const oldSpaceMb = Number(options.match(/--max-old-space-size=(\d+)/)?.[1]);
  assert.ok(oldSpaceMb > 0, `${where}: an old-space limit`);
  assert.match(options, /--max-semi-space-size=\d+/, where);
  // Node refuses a misspelt flag in NODE_OPTIONS; the heap limit it reports follows the flag.
  const run = spawnSync(process.execPath, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
    env: { ...process.env, NODE_OPTIONS: options },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `${where}: ${run.stderr}`);
  const limitMb = Number(run.stdout) / 2 ** 20;
  assert.ok(limitMb >= oldSpaceMb && limitMb < oldSpaceMb + 64, `${where}: heap limit ${limitMb} MB`);
  return oldSpaceMb;
}

test("every process's V8 heap is bounded with flags Node accepts, below the pods' memory limit", () => {
  const imageOptions = dockerfile.match(/^ENV NODE_OPTIONS="([^"]*)"$/m)?.[1];
  assert.ok(imageOptions, 'the image sets NODE_OPTIONS');
  let largestOldSpaceMb = assertHeapFlags(imageOptions, 'the image');
  // A service may set its own (the delivery workers: a larger young generation); the same value
  // in compose and in its Kubernetes manifest, and the one the benchmark runs it with.
  for (const [name, service] of Object.entries(compose.services)) {
    const own = (service.environment as Record<string, string> | undefined)?.NODE_OPTIONS;
    assert.equal(
      serviceNodeOptions(composeText, name),
      own,
      `${name}: the benchmark reads what compose sets`,
    );
    if (own === undefined) continue;
    largestOldSpaceMb = Math.max(largestOldSpaceMb, assertHeapFlags(own, name));
    const manifest = read(`deploy/k8s/base/${name}.yaml`);
    const k8sValue = manifest.match(/- name: NODE_OPTIONS\n\s+value: "?([^"\n]*)"?/)?.[1];
    assert.equal(k8sValue, own, `deploy/k8s/base/${name}.yaml sets the same NODE_OPTIONS as compose`);
  }
  // And the other way round: a manifest sets no NODE_OPTIONS that compose does not.
  for (const file of globSync('deploy/k8s/base/*.yaml', { cwd: ROOT })) {
    const k8sValue = read(file).match(/- name: NODE_OPTIONS\n\s+value: "?([^"\n]*)"?/)?.[1];
    if (k8sValue === undefined) continue;
    const name = file.replace(/^.*\/|\.yaml$/g, '');
    const own = (compose.services[name]?.environment as Record<string, string> | undefined)?.NODE_OPTIONS;
    assert.equal(own, k8sValue, `${file} sets NODE_OPTIONS as docker-compose.yml's ${name} does`);
  }
  // The allocator setting the image makes, which the benchmark's processes get too.
  assert.deepEqual(deployedEnvironment(ROOT), { MALLOC_ARENA_MAX: '2' });
  assert.ok(
    serviceNodeOptions(composeText, 'delivery')?.includes('--max-semi-space-size=8'),
    'the delivery workers run with 8 MB semi-spaces',
  );
  // Kubernetes kills a pod over its limit; the heap must stop well before, with room for Buffers.
  for (const file of globSync('deploy/k8s/base/*.yaml', { cwd: ROOT })) {
    for (const limit of read(file).matchAll(/limits:\s*\n(?:\s+\w+: \S+\n)*?\s+memory: (\d+)Mi/g)) {
      assert.ok(
        largestOldSpaceMb <= Number(limit[1]) * 0.75,
        `${file}: heap ${largestOldSpaceMb} MB vs limit ${limit[1]}Mi`,
      );
    }
  }
});

test('every Outpost service runs an outpost verb with variables Outpost reads, and they load', () => {
  const cliSources = globSync('services/cli/src/**/*.ts', { cwd: ROOT }).map(read).join('\n');
  const verbs = new Set([...cliSources.matchAll(/\.command\('([a-z-]+)/g)].map((match) => match[1]));
  // As compose would run it: with the defaults, and with .env.example's values.
  for (const values of [{}, dotenvExample]) {
    const services = (
      parse(interpolate(composeText, values), { merge: true }) as {
        services: Record<string, { command: string[]; environment: Record<string, string> }>;
      }
    ).services;
    for (const name of OUTPOST_SERVICES) {
      const service = services[name]!;
      assert.deepEqual(service.command, [name]);
      assert.ok(verbs.has(name), `outpost ${name} exists`);
      for (const variable of Object.keys(service.environment)) {
        assert.ok(knownVariables.has(variable), `${name}: ${variable} is a variable Outpost reads`);
      }
      // An empty ${VAR:-} is an empty string to compose (YAML reads it as null).
      const env = Object.fromEntries(
        Object.entries(service.environment).map(([key, value]) => [key, String(value ?? '')]),
      );
      loadConfig(env);
      if (name === 'delivery') {
        loadDeliveryConfig(env);
        loadWebhookConfig(env);
      }
      if (name === 'bounce') loadBounceConfig(env);
      if (name === 'trace-query') loadTraceQueryConfig(env);
    }
  }
});

test('.env.example sets exactly the variables the compose file takes from .env', () => {
  const interpolated = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((match) => match[1]!));
  const offered = new Set(Object.keys(dotenvExample));
  offered.delete('COMPOSE_PROJECT_NAME'); // compose's own
  assert.deepEqual([...offered].sort(), [...interpolated].sort());
  assert.equal(dotenvExample.COMPOSE_PROJECT_NAME, 'outpost');
});

test('docker-compose 1.29 validates the file offline (docker-compose config -q)', (t) => {
  // 1.29 refuses a top-level `name:`; COMPOSE_PROJECT_NAME in .env names the project instead.
  assert.equal((parse(composeText) as { name?: string }).name, undefined);
  const compose = (...args: string[]) =>
    spawnSync('docker-compose', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  // With the defaults (every profile; a developer's own .env left out), and with .env.example.
  const dir = mkdtempSync(join(tmpdir(), 'outpost-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const noEnv = join(dir, 'empty.env');
  writeFileSync(noEnv, '');
  const withDefaults = compose('--env-file', noEnv, '--profile', 'demo', 'config', '--services');
  if ((withDefaults.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    return t.skip(
      'docker-compose is not installed: `apt-get install docker-compose` (1.29, no Docker engine needed) ' +
        'or `pip install docker-compose` validates docker-compose.yml offline',
    );
  }
  assert.equal(withDefaults.status, 0, `docker-compose config: ${withDefaults.stderr}`);
  const withExample = compose('--env-file', '.env.example', 'config', '-q');
  assert.equal(withExample.status, 0, `docker-compose --env-file .env.example config: ${withExample.stderr}`);
  assert.deepEqual(withDefaults.stdout.trim().split('\n').sort(), [
    'bounce', 'delivery', 'ingest', 'jaeger', 'mailpit', 'redis', 'trace-query',
]); // biome-ignore format: one list
});
