import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';

// No Docker engine runs where the tests run, so the compose file is checked as data: the promises
// it makes about durability and startup order are asserted here.
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), {
  merge: true,
}) as {
  services: Record<string, Record<string, unknown>>;
};
const dockerfile = readFileSync(new URL('../deploy/docker/Dockerfile', import.meta.url), 'utf8');

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
  assert.match(dockerfile, /ENTRYPOINT \["node", "\/app\/services\/cli\/bin\/outpost\.ts"\]/);
});
