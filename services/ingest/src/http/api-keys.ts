import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseRateLimit, type RateLimit } from './rate-limit.ts';

/**
 * HTTP API keys, from OUTPOST_API_KEYS: entries separated by newlines or ';', each
 *
 *   name:sha256-<hex of SHA-256(key)>:sender,sender[:rate]
 *
 * e.g. `shop:sha256-9f86...:noreply@shop.example,@news.shop.example:100/min`. Only the hash is
 * configured, so a leaked environment does not leak keys. Keys are 256-bit random strings, so a
 * plain SHA-256 is enough (a slow hash protects guessable passwords, and would cost every request).
 * Senders are as in the users file: an address, `@domain`, `<>` (null sender) or `*`. The format
 * avoids '$' so it survives docker compose interpolation, and fits one Kubernetes Secret value.
 */
export interface ApiKey {
  name: string;
  /** SHA-256 of the key. */
  hash: Buffer;
  allowedSenders: string[];
  rate: RateLimit;
}

export const DEFAULT_API_KEY_RATE = '600/min';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HASH = /^sha256-([0-9a-f]{64})$/;
const KEY_PREFIX = 'outpost_';

export function parseApiKeys(text: string | undefined): ApiKey[] {
  const keys: ApiKey[] = [];
  const problems: string[] = [];
  const entries = (text ?? '')
    .split(/[\n;]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '' && !entry.startsWith('#'));
  entries.forEach((entry, index) => {
    const [name = '', hash = '', senders = '', rateText = DEFAULT_API_KEY_RATE, ...extra] = entry.split(':');
    const where = `entry ${index + 1}${NAME.test(name) ? ` (${name})` : ''}`;
    const hashHex = hash.match(HASH)?.[1];
    const rate = parseRateLimit(rateText);
    const allowedSenders = senders
      .split(',')
      .map((sender) => sender.trim().toLowerCase())
      .filter(Boolean);
    // Never echo the entry: it holds the hash.
    if (!NAME.test(name)) problems.push(`${where}: the name must be 1-64 of A-Z a-z 0-9 . _ -`);
    else if (!hashHex) problems.push(`${where}: the second field must be sha256-<64 hex digits>`);
    else if (allowedSenders.length === 0) problems.push(`${where}: no allowed senders (use * for any)`);
    else if (!rate) problems.push(`${where}: rate must look like 100/min, 10/s, 5000/h or unlimited`);
    else if (extra.length > 0) problems.push(`${where}: too many ':' fields`);
    else if (keys.some((key) => key.name === name)) problems.push(`${where}: duplicate name`);
    else keys.push({ name, hash: Buffer.from(hashHex, 'hex'), allowedSenders, rate });
  });
  if (problems.length > 0) throw new Error(`OUTPOST_API_KEYS: ${problems.join('; ')}`);
  return keys;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The key named by an `Authorization: Bearer <key>` header, or undefined. Every configured hash is
 * compared, in constant time and without stopping at a match, so timing says nothing about which
 * keys exist.
 */
export function authenticateApiKey(
  keys: readonly ApiKey[],
  authorization: string | undefined,
): ApiKey | undefined {
  const presented = authorization?.match(/^Bearer[ ]+([\x21-\x7e]{1,512})[ ]*$/i)?.[1];
  if (presented === undefined) return undefined;
  const hash = hashApiKey(presented);
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.hash, hash) && !found) found = key;
  }
  return found;
}

export interface GeneratedApiKey {
  /** The secret, shown once: the client sends it as `Authorization: Bearer <key>`. */
  key: string;
  /** The OUTPOST_API_KEYS entry for it (hash only). */
  entry: string;
}

/** A new random key and its configuration entry (for `outpost api-key`). Throws on bad options. */
export function generateApiKey(options: { name: string; senders: string[]; rate?: string }): GeneratedApiKey {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const fields = [options.name, `sha256-${hashApiKey(key).toString('hex')}`, options.senders.join(',')];
  if (options.rate !== undefined) fields.push(options.rate);
  const entry = fields.join(':');
  parseApiKeys(entry);
  return { key, entry };
}
