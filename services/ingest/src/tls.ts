import { readFile } from 'node:fs/promises';
import { type Config, ConfigError } from '@outpost/config';
import type { Logger } from '@outpost/telemetry';
import { generate } from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

/**
 * The configured certificate, or in development a fresh self-signed one. Only ingest serves TLS, so
 * only ingest requires the certificate (delivery, bounce and trace-query share the configuration).
 */
export async function loadTlsMaterial(config: Config, logger: Logger): Promise<TlsMaterial> {
  if (config.tls) {
    const [key, cert] = await Promise.all([
      readFile(config.tls.keyFile, 'utf8'),
      readFile(config.tls.certFile, 'utf8'),
    ]);
    return { key, cert, selfSigned: false };
  }
  if (config.env !== 'development')
    throw new ConfigError([
      'OUTPOST_TLS_CERT: ingest needs a certificate (with OUTPOST_TLS_KEY) unless OUTPOST_ENV=development, which generates a self-signed one',
    ]);
  logger.warn(
    { hostname: config.hostname },
    'no TLS certificate configured: using a self-signed one (development)',
  );
  const pems = await generate([{ name: 'commonName', value: config.hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: config.hostname }] }],
  });
  return { key: pems.private, cert: pems.cert, selfSigned: true };
}
