import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@outpost/config';
import { createLogger } from '@outpost/telemetry';
import { submitMessage, TestRedis } from '@outpost/testing';
import { type Ingest, startIngest } from '../src/index.ts';
import { TEST_HOSTNAME, testMessage } from './helpers.ts';
import { API_KEYS_ENV, getPath, KEYS, postMessage, startHttpTestIngest } from './http-helpers.ts';

/** The value of one sample in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// biome-ignore lint/suspicious/noExplicitAny: the parsed OpenAPI document, walked freely by the test
type Json = Record<string, any>;

/** Every "$ref" in the document, so the test can check each resolves. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') found.push(child);
      else refsIn(child, found);
    }
  }
  return found;
}

describe('HTTP API: operations endpoints', () => {
  let redis: TestRedis;
  let ingest: Ingest;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startHttpTestIngest(redis);
    port = ingest.addresses.http.port;
  });
  after(async () => {
    await ingest.stop();
    await redis.stop();
  });

  test('/metrics counts accepted and refused messages by protocol and reason, bytes and latency', async () => {
    assert.equal(
      (await postMessage(port, { from: 'alice@example.com', to: ['bob@example.org'], text: 'x' })).status,
      202,
    );
    assert.equal(
      (await postMessage(port, { from: 'alice@example.com', to: ['b@example.org'] }, { key: null })).status,
      401,
    );
    assert.equal((await postMessage(port, { from: 'eve@example.com', to: ['bob@example.org'] })).status, 403);
    await submitMessage({
      port: ingest.addresses.smtp.port,
      from: 'alice@example.com',
      to: ['bob@example.org'],
      message: testMessage(),
    });

    const metrics = await getPath(port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = metrics.text;
    assert.equal(sample(text, 'outpost_ingest_messages_accepted_total', 'protocol="http"'), 1);
    assert.equal(
      sample(text, 'outpost_ingest_messages_accepted_total', 'protocol="smtp"'),
      1,
      'SMTP goes through the same accept()',
    );
    assert.equal(
      sample(text, 'outpost_ingest_messages_refused_total', 'protocol="http",reason="authFailed"'),
      1,
    );
    assert.equal(
      sample(text, 'outpost_ingest_messages_refused_total', 'protocol="http",reason="senderNotOwned"'),
      1,
    );
    assert.ok((sample(text, 'outpost_ingest_accepted_bytes_total', 'protocol="http"') ?? 0) > 100);
    assert.equal(
      sample(text, 'outpost_ingest_accept_duration_seconds_count', 'protocol="http",outcome="accepted"'),
      1,
    );
    assert.equal(
      sample(
        text,
        'outpost_http_request_duration_seconds_count',
        'route="/v1/messages",method="POST",status="202"',
      ),
      1,
    );
    assert.match(text, /^process_cpu_seconds_total /m, 'default process metrics are there');
  });

  test('each ingest has its own metrics registry', async () => {
    const second = await startHttpTestIngest(redis);
    try {
      const answer = await postMessage(second.addresses.http.port, {
        from: 'alice@example.com',
        to: ['bob@example.org'],
        text: 'x',
      });
      assert.equal(answer.status, 202);
      const text = (await getPath(second.addresses.http.port, '/metrics')).text;
      assert.equal(sample(text, 'outpost_ingest_messages_accepted_total', 'protocol="http"'), 1);
      assert.equal(sample(text, 'outpost_ingest_messages_accepted_total', 'protocol="smtp"'), undefined);
    } finally {
      await second.stop();
    }
  });

  test('/openapi.json is a well-formed OpenAPI 3.1 document describing the API from the zod schemas', async () => {
    const answer = await getPath(port, '/openapi.json');
    assert.equal(answer.status, 200);
    const doc = JSON.parse(answer.text) as Json;
    const allowedTopLevel = [
      'openapi',
      'info',
      'jsonSchemaDialect',
      'servers',
      'paths',
      'webhooks',
      'components',
      'security',
      'tags',
      'externalDocs',
    ];
    assert.deepEqual(
      Object.keys(doc).filter((key) => !allowedTopLevel.includes(key)),
      [],
    );
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(typeof doc.info.title, 'string');
    assert.equal(typeof doc.info.version, 'string');

    const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      assert.match(path, /^\//);
      for (const [method, operation] of Object.entries(item as Json)) {
        assert.ok(methods.includes(method), `${path}: ${method}`);
        assert.ok(Object.keys(operation.responses).length > 0, `${method} ${path} has responses`);
        for (const [status, response] of Object.entries(operation.responses as Json)) {
          assert.match(status, /^([1-5]\d\d|default)$/);
          assert.equal(
            typeof response.description,
            'string',
            `${method} ${path} ${status} has a description`,
          );
        }
        for (const parameter of operation.parameters ?? []) {
          assert.ok(['query', 'header', 'path', 'cookie'].includes(parameter.in));
          assert.equal(typeof parameter.name, 'string');
        }
        for (const requirement of operation.security ?? []) {
          for (const scheme of Object.keys(requirement))
            assert.ok(doc.components.securitySchemes[scheme], scheme);
        }
      }
    }
    for (const ref of refsIn(doc)) {
      const name = ref.match(/^#\/components\/schemas\/(.+)$/)?.[1];
      assert.ok(name && doc.components.schemas[name], `${ref} resolves`);
    }
    assert.equal(doc.paths['/openapi.json'], undefined, 'the document does not describe itself');

    const send = doc.paths['/v1/messages'].post;
    assert.deepEqual(send.security, [{ apiKey: [] }]);
    assert.deepEqual(doc.components.securitySchemes.apiKey, { type: 'http', scheme: 'bearer' });
    assert.deepEqual(Object.keys(send.responses).sort(), [
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '422',
      '429',
      '503',
      '507',
    ]);
    assert.ok(
      send.parameters.some(
        (parameter: Json) => parameter.in === 'header' && parameter.name === 'idempotency-key',
      ),
    );
    const bodyRefs = refsIn(send.requestBody.content['application/json'].schema);
    assert.equal(bodyRefs.length, 2, 'composed or raw');
    const [composed, raw] = bodyRefs.map((ref) => doc.components.schemas[ref.split('/').pop()!]);
    assert.deepEqual(Object.keys(composed.properties).sort(), [
      'attachments', 'bcc', 'cc', 'dsn', 'expiresAt', 'from', 'headers', 'html', 'replyTo', 'subject', 'text', 'to',
    ]); // biome-ignore format: one list
    assert.deepEqual(composed.required, ['from']);
    assert.equal(composed.additionalProperties, false);
    const attachment = composed.properties.attachments.items;
    assert.deepEqual(Object.keys(attachment.properties).sort(), ['content', 'contentType', 'filename']);
    assert.equal(attachment.additionalProperties, false, 'no path or href');
    assert.equal(
      composed.properties.subject.pattern,
      '^[^\\r\\n\\0]*$',
      'header-bound fields document the CR/LF/NUL ban',
    );
    assert.deepEqual(raw.required.sort(), ['from', 'raw', 'to']);
    const accepted =
      doc.components.schemas[send.responses['202'].content['application/json'].schema.$ref.split('/').pop()];
    assert.deepEqual(Object.keys(accepted.properties).sort(), ['id', 'recipients']);
  });

  test('API keys never reach the logs, even at trace level', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      service: 'ingest',
      level: 'trace',
      destination: { write: (line: string) => lines.push(line) },
    });
    const config = loadConfig({
      OUTPOST_ENV: 'development',
      OUTPOST_HOSTNAME: TEST_HOSTNAME,
      REDIS_URL: redis.url,
      OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
      OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
      OUTPOST_API_KEYS: API_KEYS_ENV,
    });
    const traced = await startIngest({ config, logger });
    try {
      const httpPort = traced.addresses.http.port;
      const message = { from: 'alice@example.com', to: ['bob@example.org'], text: 'x' };
      assert.equal((await postMessage(httpPort, message)).status, 202);
      assert.equal((await postMessage(httpPort, message, { key: `${KEYS.shop.key}-wrong` })).status, 401);
      assert.equal((await postMessage(httpPort, { ...message, subject: 'a\nb' })).status, 400);
    } finally {
      await traced.stop();
    }
    assert.ok(
      lines.some((line) => line.includes('message accepted')),
      'the logger did capture lines',
    );
    for (const line of lines) assert.ok(!line.includes(KEYS.shop.key), line);
  });
});
