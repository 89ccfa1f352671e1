import { createHash, randomUUID } from 'node:crypto';
import { redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';
import type { Accepted } from './schemas.ts';

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a repeat of a request within
 * 24 h gets the first answer and enqueues nothing new.
 *
 * One Redis key per (API key name, idempotency key). The first request claims it with SET NX and a
 * short-lived "pending" marker; a concurrent duplicate sees the marker and gets 409 instead of a
 * second message. Only an accepted message's answer is kept (24 h); any failure releases the claim
 * so the client's retry is processed for real. A process that dies while holding a claim cannot
 * block the key for longer than the marker's TTL.
 */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
export const PENDING_TTL_MS = 60_000;
export const IDEMPOTENCY_KEY_PREFIX = '{outpost}:ingest:idempotency:';

type IdempotencyRecord =
  | { state: 'pending'; token: string; fingerprint: string }
  | { state: 'done'; fingerprint: string; answer: Accepted };

export type Claim =
  | { kind: 'claimed'; token: string }
  | { kind: 'replay'; answer: Accepted }
  | { kind: 'inProgress' }
  | { kind: 'mismatch' };

/** Deletes the claim only if it is still ours (its marker may have expired and been re-claimed). */
const RELEASE_SCRIPT = redisScript(`
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value).token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export interface IdempotencyStore {
  /** Throws when Redis is unreachable: the caller answers 503 rather than risk a duplicate. */
  claim(scope: string, idempotencyKey: string, fingerprint: string): Promise<Claim>;
  /** Remembers the 202 answer (the only one worth replaying: every other answer left nothing behind). */
  complete(scope: string, idempotencyKey: string, fingerprint: string, answer: Accepted): Promise<void>;
  release(scope: string, idempotencyKey: string, token: string): Promise<void>;
}

/** The same request body gives the same fingerprint; a reused key with another body is a client bug. */
export function fingerprintOf(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('base64url');
}

export function createIdempotencyStore(redis: Redis): IdempotencyStore {
  // Hashing the client's key bounds the Redis key length and keeps odd characters out of it.
  const redisKey = (scope: string, key: string) =>
    `${IDEMPOTENCY_KEY_PREFIX}${scope}:${createHash('sha256').update(key).digest('base64url')}`;
  return {
    async claim(scope, idempotencyKey, fingerprint) {
      const key = redisKey(scope, idempotencyKey);
      const token = randomUUID();
      const pending: IdempotencyRecord = { state: 'pending', token, fingerprint };
      if (await redis.set(key, JSON.stringify(pending), 'PX', PENDING_TTL_MS, 'NX')) {
        return { kind: 'claimed', token };
      }
      const existing = await redis.get(key);
      // Released or expired between the two commands: the client may simply retry.
      if (existing === null) return { kind: 'inProgress' };
      const record = JSON.parse(existing) as IdempotencyRecord;
      if (record.fingerprint !== fingerprint) return { kind: 'mismatch' };
      return record.state === 'done' ? { kind: 'replay', answer: record.answer } : { kind: 'inProgress' };
    },
    async complete(scope, idempotencyKey, fingerprint, answer) {
      const done: IdempotencyRecord = { state: 'done', fingerprint, answer };
      await redis.set(redisKey(scope, idempotencyKey), JSON.stringify(done), 'PX', IDEMPOTENCY_TTL_MS);
    },
    async release(scope, idempotencyKey, token) {
      await RELEASE_SCRIPT.run(redis, [redisKey(scope, idempotencyKey)], [token]);
    },
  };
}
