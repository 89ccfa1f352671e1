import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';

export interface GeneratedDkimKey {
  domain: string;
  selector: string;
  privateKeyPem: string;
  /** Where the public key is published: `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1). */
  dnsName: string;
  /** The TXT record's value, e.g. "v=DKIM1; k=rsa; p=MIIB..." */
  txt: string;
}

/**
 * A new DKIM key pair. RSA 2048 publishes the SubjectPublicKeyInfo (RFC 6376 §3.6.1); Ed25519
 * publishes the bare 32-byte public key (RFC 8463 §4.2).
 */
export function generateDkimKey(
  domain: string,
  selector: string,
  type: 'rsa' | 'ed25519' = 'rsa',
): GeneratedDkimKey {
  const ascii = domainToASCII(domain.toLowerCase());
  if (!ascii) throw new Error(`"${domain}" is not a domain name`);
  if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i.test(selector))
    throw new Error(`"${selector}" is not a usable selector`);
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const publicKey = type === 'rsa' ? spki : spki.subarray(spki.length - 32);
  return {
    domain: ascii,
    selector,
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    dnsName: `${selector}._domainkey.${ascii}`,
    txt: `v=DKIM1; k=${type}; p=${publicKey.toString('base64')}`,
  };
}

/** Zone-file form; TXT strings longer than 255 octets are split (RFC 1035 §3.3.14). */
export function zoneRecord(key: GeneratedDkimKey): string {
  const parts = key.txt.match(/.{1,250}/g) ?? [];
  return `${key.dnsName}. IN TXT ( ${parts.map((part) => `"${part}"`).join(' ')} )`;
}

/** Writes the private key where loadDkimKeys looks: `<dir>/<domain>/<selector>.pem`, owner-only. */
export async function writeDkimKey(dir: string, key: GeneratedDkimKey): Promise<string> {
  const folder = join(dir, key.domain);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const path = join(folder, `${key.selector}.pem`);
  await writeFile(path, key.privateKeyPem, { mode: 0o600, flag: 'wx' });
  return path;
}
