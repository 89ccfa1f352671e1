import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { globSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  loadBounceConfig,
  loadConfig,
  loadDeliveryConfig,
  loadTraceQueryConfig,
  loadWebhookConfig,
} from '@outpost/config';
import { parse, parseAllDocuments } from 'yaml';
import { createDeliveryMetrics } from '../services/delivery/src/delivery-metrics.ts';
import { createIngestMetrics } from '../services/ingest/src/http/metrics.ts';

/**
 * No cluster and no schema validator here: deploy/k8s is checked as data against what the code
 * really does (the variables libs/config reads, the ports and paths each service serves, the
 * metrics it exports). With kubectl on PATH, the kustomizations are also built.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
};

const yamlFiles = globSync('**/*.yaml', { cwd: K8S }).sort();
const manifestsByFile = new Map<string, Manifest[]>(
  yamlFiles.map((file) => {
    const documents = parseAllDocuments(readFileSync(join(K8S, file), 'utf8'));
    for (const document of documents) {
      assert.deepEqual(document.errors, [], `${file} parses`);
    }
    return [file, documents.map((document) => document.toJS() as Manifest).filter(Boolean)];
  }),
);
const isKustomization = (file: string) => basename(file) === 'kustomization.yaml';
const resources = [...manifestsByFile].filter(([file]) => !isKustomization(file)).flatMap(([, docs]) => docs);
const baseResources = [...manifestsByFile]
  .filter(([file]) => file.startsWith('base/') && !isKustomization(file))
  .flatMap(([, docs]) => docs);
const deployments = baseResources.filter((resource) => resource.kind === 'Deployment');
const byKind = (kind: string) => resources.filter((resource) => resource.kind === kind);

// biome-ignore lint/suspicious/noExplicitAny: a pod template's container, as written
type Container = any;
const containerOf = (deployment: Manifest): Container => {
  assert.equal(deployment.spec.template.spec.containers.length, 1, deployment.metadata.name);
  return deployment.spec.template.spec.containers[0];
};
const verbOf = (deployment: Manifest): string => containerOf(deployment).args[0];

/** KEY=value lines (kustomize's env files); comments and blank lines skipped. */
function readEnvFile(path: string): Record<string, string> {
  const entries = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const equals = line.indexOf('=');
      assert.ok(equals > 0, `${path}: "${line}" is KEY=value`);
      return [line.slice(0, equals), line.slice(equals + 1)] as const;
    });
  return Object.fromEntries(entries);
}

const kustomization = (dir: string) =>
  parse(readFileSync(join(K8S, dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown> & {
    resources?: string[];
    components?: string[];
    configMapGenerator?: Array<{ name: string; envs?: string[]; literals?: string[] }>;
    secretGenerator?: Array<{ name: string; envs?: string[] }>;
    images?: Array<{ name: string; newName?: string; newTag?: string; digest?: string }>;
  };
const base = kustomization('base');
const example = kustomization('overlays/example');
const baseConfig = readEnvFile(join(K8S, 'base', base.configMapGenerator![0]!.envs![0]!));
const exampleSecrets = readEnvFile(join(K8S, 'overlays/example', example.secretGenerator![0]!.envs![0]!));
const exampleLiterals = Object.fromEntries(
  example.configMapGenerator![0]!.literals!.map((literal) => literal.split(/=(.*)/s).slice(0, 2)),
);

/** Every variable libs/config's schemas read (their z.object keys), the OTel SDK's own, and Node's heap flags. */
const knownVariables = new Set([
  'NODE_OPTIONS',
  ...globSync('libs/config/src/*.ts', { cwd: ROOT }).flatMap((file) =>
    [...read(file).matchAll(/^\s{2,}([A-Z][A-Z0-9_]+):/gm)].map((match) => match[1]!),
  ),
  ...[...read('libs/telemetry/src/tracing.ts').matchAll(/\b(OTEL_[A-Z_]+)\b/g)].map((match) => match[1]!),
]);

test('every YAML document parses and says what it is', () => {
  assert.ok(yamlFiles.length >= 10, `found ${yamlFiles.length} files`);
  for (const [file, documents] of manifestsByFile) {
    assert.ok(documents.length > 0, `${file} has a document`);
    for (const document of documents) {
      assert.match(document.apiVersion, /^[a-z0-9.]+\/v\w+$|^v1$/, `${file}: apiVersion`);
      assert.match(document.kind, /^[A-Z][A-Za-z]+$/, `${file}: kind`);
      if (!isKustomization(file)) assert.match(document.metadata?.name, /^outpost(-[a-z-]+)?$/, file);
      // Namespace-agnostic: an overlay sets it.
      assert.equal(document.metadata?.namespace, undefined, `${file}: no namespace`);
    }
  }
});

test('each kustomization names every file next to it, and every file it names exists', () => {
  for (const file of yamlFiles.filter(isKustomization)) {
    const dir = dirname(file);
    const text = readFileSync(join(K8S, file), 'utf8');
    const declared = kustomization(dir);
    const named = [
      ...(declared.resources ?? []),
      ...(declared.components ?? []),
      ...(declared.configMapGenerator ?? []).flatMap((generator) => generator.envs ?? []),
      ...(declared.secretGenerator ?? []).flatMap((generator) => generator.envs ?? []),
    ];
    for (const name of named) {
      const globbed = globSync(
        name.endsWith('.yaml') || name.includes('.env') ? name : `${name}/kustomization.yaml`,
        {
          cwd: join(K8S, dir),
        },
      );
      assert.equal(globbed.length, 1, `${file} names ${name}, which exists`);
    }
    const neighbours = globSync('*', { cwd: join(K8S, dir) }).filter(
      (name) => name !== 'kustomization.yaml' && !name.includes('/') && /\.(ya?ml|env|example)$/.test(name),
    );
    for (const neighbour of neighbours) assert.ok(text.includes(neighbour), `${file} uses ${neighbour}`);
  }
  // Every directory that holds manifests is a kustomization (or a component).
  for (const file of yamlFiles) {
    assert.ok(yamlFiles.includes(join(dirname(file), 'kustomization.yaml')), `${file} belongs to one`);
  }
});

test('the four services run the one image, pinned, each with its outpost verb', () => {
  const cliSources = globSync('services/cli/src/**/*.ts', { cwd: ROOT }).map(read).join('\n');
  const verbs = new Set([...cliSources.matchAll(/\.command\('([a-z-]+)/g)].map((match) => match[1]));
  assert.deepEqual(deployments.map(verbOf).sort(), ['bounce', 'delivery', 'ingest', 'trace-query']);
  for (const deployment of deployments) {
    assert.ok(verbs.has(verbOf(deployment)), `outpost ${verbOf(deployment)} exists`);
    assert.equal(
      containerOf(deployment).image,
      'outpost',
      `${deployment.metadata.name}: the kustomize image`,
    );
    assert.equal(containerOf(deployment).command, undefined, 'the image entrypoint is kept');
  }
  // docker-compose.yml builds the same image under the same name.
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { image?: string }>;
  };
  assert.equal(compose.services.ingest!.image!.split(':')[0], 'outpost');
  // Pinned to a release, never latest.
  const version = (JSON.parse(read('services/cli/package.json')) as { version: string }).version;
  for (const { images } of [base, example]) {
    const image = images!.find((entry) => entry.name === 'outpost')!;
    assert.ok(image.digest || /^\d+\.\d+\.\d+$/.test(image.newTag ?? ''), 'a version tag or a digest');
    assert.equal(image.newTag, version);
  }
  for (const resource of resources.filter((item) => item.kind === 'StatefulSet')) {
    for (const container of resource.spec.template.spec.containers) {
      assert.match(container.image, /^[\w./-]+:\d+\.\d+\.\d+$/, `${resource.metadata.name}: pinned`);
    }
  }
});

test('every variable the manifests set is one Outpost reads, and together they load', () => {
  const sources: Array<[string, Record<string, string>]> = [
    ['base/config.env', baseConfig],
    ['overlays/example literals', exampleLiterals],
    ['overlays/example secrets', exampleSecrets],
    ...deployments.map((deployment): [string, Record<string, string>] => [
      deployment.metadata.name,
      Object.fromEntries(
        (containerOf(deployment).env ?? []).map((entry: { name: string; value: string }) => [
          entry.name,
          entry.value,
        ]),
      ),
    ]),
  ];
  for (const [where, variables] of sources) {
    for (const name of Object.keys(variables))
      assert.ok(knownVariables.has(name), `${where}: ${name} is known`);
  }
  // Each pod's environment, as the kubelet builds it: ConfigMap, then Secret, then env.
  for (const deployment of deployments) {
    const container = containerOf(deployment);
    assert.deepEqual(
      container.envFrom.map((source: Record<string, { name: string }>) => Object.values(source)[0]!.name),
      ['outpost-config', 'outpost-secrets'],
      'the Secret comes last so its keys win',
    );
    const env = {
      ...baseConfig,
      ...exampleLiterals,
      ...exampleSecrets,
      ...Object.fromEntries(
        container.env?.map((entry: { name: string; value: string }) => [entry.name, entry.value]) ?? [],
      ),
    };
    const config = loadConfig(env);
    assert.equal(config.env, 'production');
    const verb = verbOf(deployment);
    if (verb === 'delivery') {
      loadDeliveryConfig(env);
      loadWebhookConfig(env);
    }
    if (verb === 'bounce') loadBounceConfig(env);
    if (verb === 'trace-query') loadTraceQueryConfig(env);
  }
});

/** The listen variable behind each named container port, per service, and its default. */
const LISTENERS: Record<string, Record<string, [string, string]>> = {
  ingest: {
    smtp: ['OUTPOST_SMTP_LISTEN', '0.0.0.0:2525'],
    smtps: ['OUTPOST_SMTPS_LISTEN', ''],
    http: ['OUTPOST_HTTP_LISTEN', '0.0.0.0:8080'],
  },
  delivery: { http: ['OUTPOST_DELIVERY_HTTP_LISTEN', '0.0.0.0:8081'] },
  'trace-query': { http: ['OUTPOST_TRACE_QUERY_LISTEN', '0.0.0.0:8090'] },
  bounce: { http: ['OUTPOST_BOUNCE_HTTP_LISTEN', '0.0.0.0:8082'] },
};

/** Where each service answers its HTTP paths (the source that registers them). */
const HTTP_SOURCES: Record<string, string[]> = {
  ingest: ['services/ingest/src/http/routes/health.ts'],
  delivery: ['libs/telemetry/src/health-server.ts'],
  'trace-query': ['services/trace-query/src/http/query-server.ts'],
  bounce: ['libs/telemetry/src/health-server.ts'],
};

test('probes and Services use ports the containers declare, where the service really listens', () => {
  for (const deployment of deployments) {
    const verb = verbOf(deployment);
    const container = containerOf(deployment);
    const ports: Array<{ name: string; containerPort: number }> = container.ports ?? [];
    const env = Object.fromEntries(
      (container.env ?? []).map((entry: { name: string; value: string }) => [entry.name, entry.value]),
    );
    assert.deepEqual(ports.map((port) => port.name).sort(), Object.keys(LISTENERS[verb]!).sort(), verb);
    for (const port of ports) {
      const [variable, fallback] = LISTENERS[verb]![port.name]!;
      const listen = env[variable] ?? fallback;
      assert.equal(Number(listen.split(':').at(-1)), port.containerPort, `${verb}: ${variable} = ${listen}`);
      assert.match(listen, /^0\.0\.0\.0:|^\[::\]:/, `${verb} listens on every interface`);
    }
    const resolve = (port: string | number) =>
      typeof port === 'number'
        ? ports.find((item) => item.containerPort === port)
        : ports.find((item) => item.name === port);
    for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const probe = container[kind];
      if (!probe) continue;
      const target = probe.httpGet ?? probe.tcpSocket;
      assert.ok(target, `${verb} ${kind} is HTTP or TCP`);
      assert.ok(resolve(target.port), `${verb} ${kind} port ${target.port} is declared`);
      if (probe.httpGet) {
        const served = HTTP_SOURCES[verb]!.map(read).join('\n');
        assert.ok(served.includes(`'${probe.httpGet.path}'`), `${verb} serves ${probe.httpGet.path}`);
      }
    }
    // Liveness never depends on Redis: /healthz, not /readyz.
    if (container.livenessProbe?.httpGet) assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    if (ports.some((port) => port.name === 'http'))
      assert.ok(container.readinessProbe, `${verb} has readiness`);
  }
  for (const service of byKind('Service')) {
    const pods = resources.filter(
      (resource) =>
        ['Deployment', 'StatefulSet'].includes(resource.kind) &&
        Object.entries(service.spec.selector).every(
          ([key, value]) => resource.spec.template.metadata.labels[key] === value,
        ),
    );
    assert.ok(pods.length > 0, `${service.metadata.name} selects pods`);
    for (const port of service.spec.ports) {
      for (const pod of pods) {
        const declared = pod.spec.template.spec.containers.flatMap((item: Container) => item.ports ?? []);
        assert.ok(
          declared.some((item: { name: string }) => item.name === port.targetPort),
          `${service.metadata.name}:${port.port} -> ${port.targetPort}`,
        );
      }
    }
  }
});

test('pods run as non-root on a read-only root filesystem, with requests and a memory limit', () => {
  for (const workload of resources.filter((resource) =>
    ['Deployment', 'StatefulSet'].includes(resource.kind),
  )) {
    const pod = workload.spec.template.spec;
    const name = workload.metadata.name;
    assert.equal(pod.securityContext.runAsNonRoot, true, name);
    // Numeric, or the kubelet cannot verify runAsNonRoot for an image whose USER is a name.
    assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0, name);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', name);
    assert.equal(pod.automountServiceAccountToken, false, name);
    for (const container of pod.containers) {
      assert.equal(container.securityContext.readOnlyRootFilesystem, true, name);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false, name);
      assert.deepEqual(container.securityContext.capabilities.drop, ['ALL'], name);
      assert.ok(container.resources.requests.cpu && container.resources.requests.memory, `${name} requests`);
      assert.ok(container.resources.limits.memory, `${name} memory limit`);
    }
  }
  // The Dockerfile's user is the one the pods run as (node, 1000).
  assert.match(read('deploy/docker/Dockerfile'), /^USER (node|1000)/m);
  for (const deployment of deployments)
    assert.equal(deployment.spec.template.spec.securityContext.runAsUser, 1000);
});

test('a stopping pod gets longer than its own shutdown grace plus the preStop pause', () => {
  const graceSeconds = Number(/^(\d+)s$/.exec(baseConfig.OUTPOST_SHUTDOWN_GRACE!)?.[1]);
  assert.ok(graceSeconds > 0);
  for (const deployment of deployments) {
    const container = containerOf(deployment);
    const pause = container.lifecycle?.preStop?.exec?.command;
    const pauseSeconds = pause ? Number(pause[1]) : 0;
    if (pause) assert.deepEqual(pause.slice(0, 1), ['sleep']);
    const termination = deployment.spec.template.spec.terminationGracePeriodSeconds;
    assert.ok(
      termination > graceSeconds + pauseSeconds,
      `${deployment.metadata.name}: ${termination}s > ${graceSeconds}s + ${pauseSeconds}s`,
    );
    // Pods behind a Service pause so that endpoints drop them before the listeners close.
    if (['ingest', 'trace-query'].includes(verbOf(deployment))) assert.ok(pauseSeconds > 0);
  }
  // The compose file gives its containers the same margin.
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { stop_grace_period?: string }>;
  };
  assert.ok(Number.parseInt(compose.services.delivery!.stop_grace_period!, 10) > graceSeconds);
});

/** Field names of the Kubernetes API objects used here (apps/v1, core/v1), against typos. */
const FIELDS: Record<string, string[]> = {
  workloadSpec: [
    'replicas', 'selector', 'template', 'strategy', 'minReadySeconds', 'revisionHistoryLimit',
    'progressDeadlineSeconds', 'paused', 'serviceName', 'volumeClaimTemplates', 'podManagementPolicy',
    'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'ordinals',
  ],
  podSpec: [
    'volumes', 'initContainers', 'containers', 'restartPolicy', 'terminationGracePeriodSeconds',
    'activeDeadlineSeconds', 'dnsPolicy', 'nodeSelector', 'serviceAccountName', 'automountServiceAccountToken',
    'securityContext', 'imagePullSecrets', 'affinity', 'tolerations', 'priorityClassName', 'dnsConfig',
    'topologySpreadConstraints', 'enableServiceLinks', 'runtimeClassName', 'hostUsers', 'os',
  ],
  container: [
    'name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'volumeMounts',
    'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'terminationMessagePath',
    'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'resizePolicy',
  ],
  probe: [
    'exec', 'httpGet', 'tcpSocket', 'grpc', 'initialDelaySeconds', 'timeoutSeconds', 'periodSeconds',
    'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds',
  ],
  containerSecurity: [
    'capabilities', 'privileged', 'seLinuxOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot',
    'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'procMount', 'seccompProfile', 'appArmorProfile',
  ],
  podSecurity: [
    'seLinuxOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'supplementalGroups', 'fsGroup', 'sysctls',
    'fsGroupChangePolicy', 'seccompProfile', 'appArmorProfile',
  ],
}; // biome-ignore format: a list of names

test("field names are Kubernetes' own (a misspelt one would be dropped without a word)", () => {
  const check = (object: object | undefined, kind: string, where: string) => {
    for (const key of Object.keys(object ?? {})) assert.ok(FIELDS[kind]!.includes(key), `${where}: ${key}`);
  };
  for (const workload of resources.filter((resource) =>
    ['Deployment', 'StatefulSet'].includes(resource.kind),
  )) {
    const name = workload.metadata.name;
    check(workload.spec, 'workloadSpec', name);
    check(workload.spec.template.spec, 'podSpec', name);
    check(workload.spec.template.spec.securityContext, 'podSecurity', name);
    for (const container of workload.spec.template.spec.containers) {
      check(container, 'container', `${name}/${container.name}`);
      check(container.securityContext, 'containerSecurity', `${name}/${container.name}`);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        check(container[probe], 'probe', `${name}/${container.name} ${probe}`);
      }
    }
  }
});

test('every Deployment has a PodDisruptionBudget that lets a node drain', () => {
  const budgets = byKind('PodDisruptionBudget');
  for (const deployment of deployments) {
    const budget = budgets.find(
      (item) => JSON.stringify(item.spec.selector) === JSON.stringify(deployment.spec.selector),
    );
    assert.ok(budget, `${deployment.metadata.name} has a budget`);
    assert.equal(budget.spec.maxUnavailable, 1);
  }
});

type ExportedMetric = { name: string; values: Array<{ labels: Partial<Record<string, string | number>> }> };

/** The series each service's /metrics really exposes, from its own metric definitions. */
async function exportedSeries(): Promise<Map<string, ExportedMetric>> {
  const counts = async (...states: string[]) => Object.fromEntries(states.map((state) => [state, 7]));
  const delivery = createDeliveryMetrics({
    deliveryQueue: {
      name: 'delivery',
      getJobCounts: counts,
      getJobs: async () => [],
      getRanges: async () => [],
    },
    messageQueue: {
      name: 'message',
      getJobCounts: counts,
      getJobs: async () => [],
      getRanges: async () => [],
    },
    limiter: { list: async () => [{ destination: 'mx.example.org', window: 1 }] },
  } as never);
  const ingest = createIngestMetrics();
  const metrics: ExportedMetric[] = [
    ...(await delivery.registry.getMetricsAsJSON()),
    ...(await ingest.registry.getMetricsAsJSON()),
  ];
  return new Map(metrics.map((metric) => [metric.name, metric]));
}

/** `name{label op "value", ...}` selectors of a PromQL expression. */
function selectors(expression: string) {
  return [...expression.matchAll(/\b((?:outpost|redis)_[a-z_]+)\s*(?:\{([^}]*)\})?/g)].map((match) => ({
    name: match[1]!,
    matchers: [...(match[2] ?? '').matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((matcher) => ({
      label: matcher[1]!,
      op: matcher[2]!,
      value: matcher[3]!,
    })),
  }));
}

/** The values a label can take, from the code that sets it. */
function labelValueExists(label: string, value: string): boolean {
  if (label === 'namespace') return true;
  const sources: Record<string, string[]> = {
    queue: ['libs/queue/src/names.ts'],
    state: ['services/delivery/src/delivery-metrics.ts'],
    verdict: ['libs/core/src/delivery/classify.ts'],
    category: ['libs/core/src/delivery/classify.ts'],
    reason: ['libs/core/src/smtp-reply.ts'],
  };
  const text = (sources[label] ?? []).map(read).join('\n');
  return new RegExp(`['"]?\\b${value}\\b['"]?\\s*[:,)\\]]`).test(text) || text.includes(`'${value}'`);
}

const METRICS_ROUTES: Record<string, string> = {
  ingest: 'services/ingest/src/http/routes/metrics.ts',
  delivery: 'libs/telemetry/src/health-server.ts',
  bounce: 'libs/telemetry/src/health-server.ts',
};

test('KEDA scales delivery on a series the workers export, aggregated with max()', async () => {
  const [scaled] = byKind('ScaledObject');
  assert.ok(scaled);
  assert.equal(scaled.spec.scaleTargetRef.name, 'outpost-delivery');
  assert.ok(deployments.some((deployment) => deployment.metadata.name === 'outpost-delivery'));
  assert.ok(scaled.spec.minReplicaCount >= 1, 'never zero: the workers report the backlog themselves');
  const [trigger] = scaled.spec.triggers;
  assert.equal(trigger.type, 'prometheus');
  const query: string = trigger.metadata.query;
  assert.match(
    query,
    /max by \(state\) \(outpost_queue_jobs/,
    'every worker reports the same queue-wide value',
  );

  const series = await exportedSeries();
  const [selector] = selectors(query);
  const metric = series.get(selector!.name);
  assert.ok(metric, `${selector!.name} is exported by delivery`);
  const state = selector!.matchers.find((matcher) => matcher.label === 'state')!;
  for (const wanted of state.value.split('|')) {
    const found: unknown[] = metric.values.filter(
      (value) =>
        value.labels.state === wanted &&
        selector!.matchers.every(
          (matcher) => matcher.label === 'state' || value.labels[matcher.label] === matcher.value,
        ),
    );
    assert.equal(found.length, 1, `a ${selector!.name}{queue="delivery", state="${wanted}"} series`);
  }
  // The example overlay narrows the same query to its namespace.
  assert.match(
    read('deploy/k8s/overlays/example/kustomization.yaml'),
    /namespace="outpost", queue="delivery"/,
  );
});

test('alerts and the ServiceMonitor use metrics, labels and ports that exist', async () => {
  const series = await exportedSeries();
  const [rule] = byKind('PrometheusRule');
  assert.ok(rule);
  const alerts = rule.spec.groups.flatMap(
    (group: { rules: Array<{ alert: string; expr: string }> }) => group.rules,
  );
  assert.ok(alerts.length >= 6);
  for (const alert of alerts) {
    for (const selector of selectors(alert.expr)) {
      if (selector.name.startsWith('redis_')) continue; // redis_exporter's, not ours
      assert.ok(series.has(selector.name), `${alert.alert}: ${selector.name} is exported`);
      for (const matcher of selector.matchers) {
        for (const value of matcher.value.split('|')) {
          assert.ok(
            labelValueExists(matcher.label, value),
            `${alert.alert}: ${matcher.label}="${value}" occurs`,
          );
        }
      }
    }
  }
  const [monitor] = byKind('ServiceMonitor');
  assert.ok(monitor);
  const scraped = byKind('Service').filter(
    (service) =>
      service.metadata.labels?.['app.kubernetes.io/name'] === 'outpost' &&
      monitor.spec.selector.matchExpressions[0].values.includes(
        service.metadata.labels['app.kubernetes.io/component'],
      ),
  );
  assert.deepEqual(scraped.map((service) => service.metadata.name).sort(), [
    'outpost-bounce',
    'outpost-delivery',
    'outpost-ingest',
  ]);
  for (const service of scraped) {
    assert.ok(
      service.spec.ports.some((port: { name: string }) => port.name === monitor.spec.endpoints[0].port),
    );
  }
  // Pods that serve /metrics say so for annotation-based scraping too.
  for (const deployment of deployments.filter((item) =>
    ['ingest', 'delivery', 'bounce'].includes(verbOf(item)),
  )) {
    const annotations = deployment.spec.template.metadata.annotations;
    const port = containerOf(deployment).ports.find((item: { name: string }) => item.name === 'http');
    assert.equal(annotations['prometheus.io/port'], String(port.containerPort));
    assert.ok(
      read(METRICS_ROUTES[verbOf(deployment)]!).includes("'/metrics'"),
      `${verbOf(deployment)} serves /metrics`,
    );
  }
});

test('the dev Redis runs as the compose file runs it: AOF always, noeviction, a volume', () => {
  const [redis] = byKind('StatefulSet');
  assert.ok(redis);
  const args: string[] = redis.spec.template.spec.containers[0].args;
  assert.match(args.join(' '), /--appendonly yes --appendfsync always/);
  assert.match(args.join(' '), /--maxmemory-policy noeviction/);
  assert.equal(redis.spec.volumeClaimTemplates[0].metadata.name, 'data');
  const compose = parse(read('docker-compose.yml')) as { services: { redis: { image: string } } };
  assert.equal(redis.spec.template.spec.containers[0].image, compose.services.redis.image);
  assert.equal(baseConfig.REDIS_URL, `redis://${redis.metadata.name}:6379`);
});

test('kubectl kustomize builds the base and the example overlay', (t) => {
  if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0) {
    return t.skip('kubectl is not installed (any recent kubectl has kustomize built in)');
  }
  const build = (dir: string) => {
    const result = spawnSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, `${relative(ROOT, join(K8S, dir))}: ${result.stderr}`);
    return parseAllDocuments(result.stdout).map((document) => document.toJS() as Manifest);
  };
  assert.equal(build('base').filter((item) => item.kind === 'Deployment').length, 4);
  const built = build('overlays/example');
  const namespaced = built.filter((item) => item.kind !== 'Namespace');
  assert.ok(
    namespaced.every((item) => item.metadata.namespace === 'outpost'),
    'everything in the namespace',
  );
  const config = built.find((item) => item.kind === 'ConfigMap')!;
  const secret = built.find((item) => item.kind === 'Secret')!;
  for (const deployment of built.filter((item) => item.kind === 'Deployment')) {
    const container = deployment.spec.template.spec.containers[0];
    assert.equal(container.image, 'registry.example.com/outpost:0.1.0');
    // The generated names (with their content hash) are the ones the pods use.
    assert.deepEqual(
      container.envFrom.map((source: Record<string, { name: string }>) => Object.values(source)[0]!.name),
      [config.metadata.name, secret.metadata.name],
    );
  }
});
