import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { loadTraceQueryConfig, type OperatorKeyEntry } from '@outpost/config';

const KEY_PREFIX = 'outpost_op_';

export function hashOperatorKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The operator named by an `Authorization: Bearer <key>` header, or undefined. Keys are 256-bit
 * random strings, so a plain SHA-256 is enough; every configured hash is compared in constant time
 * and without stopping at a match, so timing says nothing about which keys exist.
 */
export function authenticateOperator(
  keys: readonly OperatorKeyEntry[],
  authorization: string | undefined,
): string | undefined {
  const presented = authorization?.match(/^Bearer[ ]+([\x21-\x7e]{1,512})[ ]*$/i)?.[1];
  if (presented === undefined) return undefined;
  const hash = hashOperatorKey(presented);
  let found: string | undefined;
  for (const key of keys) {
    if (timingSafeEqual(Buffer.from(key.sha256, 'hex'), hash) && found === undefined) found = key.name;
  }
  return found;
}

/** A new key (shown once) and its OUTPOST_OPERATOR_KEYS entry (hash only). Throws on a bad name. */
export function generateOperatorKey(name: string): { key: string; entry: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const entry = `${name}:sha256-${hashOperatorKey(key).toString('hex')}`;
  loadTraceQueryConfig({ OUTPOST_OPERATOR_KEYS: entry });
  return { key, entry };
}
