import { createPrivateKey } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';

/** A signing key: the d= domain, the s= selector, and the private key (RSA or Ed25519, RFC 8463). */
export interface DkimKey {
  domain: string;
  selector: string;
  privateKey: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

/** Keys by signing domain; a domain may have several (key rotation signs with each). */
export type DkimKeyring = ReadonlyMap<string, DkimKey[]>;

function toKey(domain: string, selector: string, pem: string, origin: string): DkimKey {
  const ascii = domainToASCII(domain.trim().toLowerCase());
  if (!ascii || !/^[a-z0-9](?:[a-z0-9-._]*[a-z0-9])?$/i.test(selector)) {
    throw new Error(`DKIM key ${origin}: bad domain "${domain}" or selector "${selector}"`);
  }
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch (error) {
    throw new Error(`DKIM key ${origin}: not a PEM private key (${(error as Error).message})`);
  }
  if (type !== 'rsa' && type !== 'ed25519')
    throw new Error(`DKIM key ${origin}: ${type} keys cannot sign DKIM`);
  return {
    domain: ascii,
    selector,
    privateKey: pem,
    algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
  };
}

/**
 * Keys from a directory laid out as `<dir>/<domain>/<selector>.pem` (what `outpost dkim keygen`
 * writes), and from OUTPOST_DKIM_KEYS entries `domain:selector:<base64 of the PEM>` separated by
 * newlines or `;` (one Kubernetes Secret value).
 */
export async function loadDkimKeys(options: { dir?: string; inline?: string }): Promise<DkimKeyring> {
  const keys: DkimKey[] = [];
  if (options.dir) {
    for (const domain of await readdir(options.dir, { withFileTypes: true })) {
      if (!domain.isDirectory()) continue;
      for (const file of await readdir(join(options.dir, domain.name))) {
        if (!file.endsWith('.pem')) continue;
        const path = join(options.dir, domain.name, file);
        keys.push(toKey(domain.name, file.slice(0, -4), await readFile(path, 'utf8'), path));
      }
    }
  }
  for (const entry of (options.inline ?? '')
    .split(/[\n;]+/)
    .map((text) => text.trim())
    .filter(Boolean)) {
    const [domain = '', selector = '', encoded = ''] = entry.split(':');
    keys.push(
      toKey(
        domain,
        selector,
        Buffer.from(encoded, 'base64').toString('utf8'),
        `OUTPOST_DKIM_KEYS ${domain}:${selector}`,
      ),
    );
  }
  const ring = new Map<string, DkimKey[]>();
  for (const key of keys) ring.set(key.domain, [...(ring.get(key.domain) ?? []), key]);
  return ring;
}
