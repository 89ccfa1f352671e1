import { readFile } from 'node:fs/promises';
import { createSecureContext, getCACertificates, type SecureContext } from 'node:tls';
import { ConfigError } from '@outpost/config';

/**
 * The trust store for verifying receivers' and MTA-STS policy hosts' certificates: Node's default
 * CAs (bundled, plus NODE_EXTRA_CA_CERTS and the system store when Node is told to use it) and,
 * when configured, the CAs of a PEM file (OUTPOST_MTA_STS_CA_FILE: tests, a private PKI). Built
 * once: a CA list given per connection would be parsed for every connection.
 */
export async function loadTrustStore(caFile: string | undefined): Promise<SecureContext | undefined> {
  if (!caFile) return undefined;
  let extra: string;
  try {
    extra = await readFile(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError([`OUTPOST_MTA_STS_CA_FILE: cannot read ${caFile} (${(error as Error).message})`]);
  }
  if (!extra.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError([`OUTPOST_MTA_STS_CA_FILE: ${caFile} holds no PEM certificate`]);
  }
  try {
    return createSecureContext({ ca: [...getCACertificates('default'), extra] });
  } catch (error) {
    throw new ConfigError([`OUTPOST_MTA_STS_CA_FILE: ${caFile}: ${(error as Error).message}`]);
  }
}
