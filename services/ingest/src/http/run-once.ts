import type { FastifyBaseLogger } from 'fastify';
import { IngestRefusal } from '../ingest-refusal.ts';
import { ApiError, refusalToApiError } from './api-error.ts';
import { type Claim, fingerprintOf, type IdempotencyStore } from './idempotency.ts';
import type { Accepted } from './schemas.ts';

export interface OnceRequest {
  /** Whose keys these are (the API key name): two clients never share an Idempotency-Key. */
  scope: string;
  idempotencyKey: string;
  body: unknown;
}

/**
 * Runs `submit` at most once per Idempotency-Key: a repeat gets the stored answer (`replayed`),
 * a concurrent duplicate 409, the same key with another body 422. A failed `submit` releases the
 * claim, so the client's retry is processed for real.
 */
export async function runOnce(
  store: IdempotencyStore,
  request: OnceRequest,
  submit: () => Promise<Accepted>,
  log: FastifyBaseLogger,
): Promise<{ answer: Accepted; replayed: boolean }> {
  const { scope, idempotencyKey } = request;
  const fingerprint = fingerprintOf(request.body);
  const claim = await claimOrRefuse(store, scope, idempotencyKey, fingerprint);
  if (claim.kind === 'replay') return { answer: claim.answer, replayed: true };
  let answer: Accepted;
  try {
    answer = await submit();
  } catch (error) {
    await store
      .release(scope, idempotencyKey, claim.token)
      .catch((releaseError: unknown) =>
        log.warn({ err: releaseError }, 'idempotency claim not released; it expires on its own'),
      );
    throw error;
  }
  // The message is stored: answer 202 even if remembering the answer fails (an error would make
  // the client send it again for sure).
  await store
    .complete(scope, idempotencyKey, fingerprint, answer)
    .catch((error: unknown) => log.warn({ err: error, id: answer.id }, 'idempotency answer not stored'));
  return { answer, replayed: false };
}

async function claimOrRefuse(
  store: IdempotencyStore,
  scope: string,
  idempotencyKey: string,
  fingerprint: string,
): Promise<Extract<Claim, { kind: 'claimed' | 'replay' }>> {
  let claim: Claim;
  try {
    claim = await store.claim(scope, idempotencyKey, fingerprint);
  } catch {
    // Without the record "at most once" cannot be promised; Redis is down, so nothing could be stored anyway.
    throw refusalToApiError(new IngestRefusal('storageUnavailable'));
  }
  if (claim.kind === 'inProgress') {
    throw new ApiError(
      409,
      'idempotency_in_progress',
      'A request with this Idempotency-Key is being processed',
      {
        field: 'idempotency-key',
        retryAfterSeconds: 1,
        reason: 'idempotencyConflict',
      },
    );
  }
  if (claim.kind === 'mismatch') {
    throw new ApiError(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request',
      {
        field: 'idempotency-key',
        reason: 'idempotencyConflict',
      },
    );
  }
  return claim;
}
