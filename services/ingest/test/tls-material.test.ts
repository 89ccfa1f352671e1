import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '@outpost/config';
import { createLogger } from '@outpost/telemetry';
import { loadTlsMaterial } from '../src/tls.ts';

const logger = createLogger({ service: 'ingest', level: 'silent' });

test('production ingest without a certificate refuses to start, naming the variable', async () => {
  const config = loadConfig({ OUTPOST_HOSTNAME: 'mail.example.com' });
  await assert.rejects(loadTlsMaterial(config, logger), (error: ConfigError) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.problems[0]!, /^OUTPOST_TLS_CERT: ingest needs a certificate/);
    return true;
  });
});

test('development ingest without a certificate makes a self-signed one for its hostname', async () => {
  const config = loadConfig({ OUTPOST_ENV: 'development', OUTPOST_HOSTNAME: 'outpost.test' });
  const material = await loadTlsMaterial(config, logger);
  assert.equal(material.selfSigned, true);
  assert.match(material.cert, /^-----BEGIN CERTIFICATE-----/);
});
