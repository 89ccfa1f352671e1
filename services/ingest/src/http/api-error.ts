import type { IngestRefusal as RefusalReason } from '@outpost/core';
import type { IngestRefusal } from '../ingest-refusal.ts';

/** The `reason` label of the refusal metrics: ingest's refusal reasons, plus those only the HTTP API has. */
export type HttpRefusalReason =
  | RefusalReason
  | 'invalidRequest'
  | 'rateLimited'
  | 'idempotencyConflict'
  | 'busy';

/**
 * An answer other than 2xx, as `{error: {code, message, field?}}`. `code` is stable for programs,
 * `message` is for people, `field` names the offending request field (a JSON path such as
 * `attachments[0].path`, or a header name).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly reason: HttpRefusalReason;
  /** Already counted in the refusal metrics (by the instrumented accept()). */
  readonly counted: boolean;
  constructor(
    status: number,
    code: string,
    message: string,
    options: {
      field?: string;
      retryAfterSeconds?: number;
      reason?: HttpRefusalReason;
      counted?: boolean;
    } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason ?? 'invalidRequest';
    this.counted = options.counted ?? false;
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field !== undefined && { field: this.field }),
      },
    };
  }
}

/** How long a client should wait before retrying when storage refused (Retry-After, seconds). */
export const RETRY_AFTER_UNAVAILABLE_S = 10;
export const RETRY_AFTER_FULL_S = 60;

const REFUSAL_ANSWERS: Partial<
  Record<RefusalReason, { status: number; code: string; retryAfterSeconds?: number }>
> = {
  authRequired: { status: 401, code: 'unauthorized' },
  authFailed: { status: 401, code: 'unauthorized' },
  senderNotOwned: { status: 403, code: 'sender_not_allowed' },
  relayDenied: { status: 403, code: 'relay_denied' },
  badAddress: { status: 400, code: 'invalid_address' },
  tooManyRecipients: { status: 400, code: 'too_many_recipients' },
  messageTooBig: { status: 413, code: 'message_too_large' },
  tooManyHops: { status: 400, code: 'mail_loop' },
  storageUnavailable: {
    status: 503,
    code: 'storage_unavailable',
    retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_S,
  },
  // 507 Insufficient Storage (RFC 4918 §11.5): the request was fine, we are full for now.
  storageFull: { status: 507, code: 'storage_full', retryAfterSeconds: RETRY_AFTER_FULL_S },
};

/**
 * The HTTP answer for an ingest refusal. A reason without an entry (added to INGEST_REPLIES later)
 * follows its SMTP class: transient -> 503 with Retry-After, permanent -> 400.
 */
export function refusalToApiError(refusal: IngestRefusal, options: { counted?: boolean } = {}): ApiError {
  const known = REFUSAL_ANSWERS[refusal.reason];
  const transient = refusal.reply.code < 500;
  const answer = known ?? {
    status: transient ? 503 : 400,
    code: 'refused',
    ...(transient && { retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_S }),
  };
  return new ApiError(answer.status, answer.code, refusal.reply.text, {
    reason: refusal.reason,
    counted: options.counted ?? false,
    ...(answer.retryAfterSeconds !== undefined && { retryAfterSeconds: answer.retryAfterSeconds }),
  });
}
