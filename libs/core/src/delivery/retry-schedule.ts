/** The retry schedule: first retry after 5 min, doubling, capped at 60 min, each ±20% jitter. */
export interface RetryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** 0.2 = ±20% */
  jitter: number;
  /** Optional cap on attempts; undefined = only the lifetime limits retries. */
  maxAttempts?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  firstDelayMs: 5 * 60_000,
  maxDelayMs: 60 * 60_000,
  jitter: 0.2,
};

/**
 * Delay before retry number `attempt` (1 = the retry after the first failed attempt). `random` is a
 * number in [0, 1), injected so the whole schedule is testable as a list.
 */
export function retryDelayMs(
  attempt: number,
  random: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): number {
  const base = Math.min(policy.firstDelayMs * 2 ** Math.max(0, attempt - 1), policy.maxDelayMs);
  const factor = 1 + policy.jitter * (2 * random - 1);
  return Math.round(base * factor);
}

export type RetryDecision =
  | { kind: 'retry'; at: number; delayMs: number }
  | { kind: 'expire'; reason: string };

/**
 * After a failed attempt: when to try again, or that the recipients expire now because the next
 * try would fall past the message's lifetime (RFC 5321 §4.5.4.1: give up after 4-5 days).
 */
export function planRetry(options: {
  now: number;
  /** Attempts made so far, the failed one included. */
  attempts: number;
  expiresAt: number;
  random: number;
  policy?: RetryPolicy;
}): RetryDecision {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  if (policy.maxAttempts !== undefined && options.attempts >= policy.maxAttempts) {
    return { kind: 'expire', reason: `gave up after ${options.attempts} attempts` };
  }
  const delayMs = retryDelayMs(options.attempts, options.random, policy);
  const at = options.now + delayMs;
  if (at > options.expiresAt) return { kind: 'expire', reason: 'queue lifetime exceeded' };
  return { kind: 'retry', at, delayMs };
}
