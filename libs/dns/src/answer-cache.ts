import { type DnsError, toDnsError } from './dns-error.ts';
import { TtlCache } from './ttl-cache.ts';

/**
 * What one question (name, type) got: records, or a negative answer (RFC 2308 §1: NXDOMAIN, or
 * NODATA when the name exists without records of the type). A temporary failure is no answer: it
 * rejects instead.
 */
export type Answer<T> = { kind: 'records'; records: T } | { kind: 'negative'; error: DnsError };

export interface AnswerCacheOptions {
  /** Bound on the number of cached answers (one per name and type); the oldest goes first. */
  maxEntries: number;
  /** Shortest time an answer is kept whatever its TTL says; 0 keeps TTL 0 answers not at all. */
  minTtlMs: number;
  /** Longest time any answer is kept. */
  maxTtlMs: number;
  now?: () => number;
}

/** The records of a successful query and how long they may be cached. */
export interface QueryResult<T> {
  records: T;
  ttlMs: number;
}

/**
 * Answers per (name, type), kept for their TTL raised to a floor: a server answering with TTL 0
 * (dnsmasq's local records) would otherwise have every delivery ask again. Concurrent lookups of
 * one (name, type) share a single query and its outcome, success or error.
 */
export class AnswerCache {
  readonly #answers: TtlCache<Answer<unknown>>;
  readonly #inFlight = new Map<string, Promise<Answer<unknown>>>();
  readonly #minTtlMs: number;
  readonly #maxTtlMs: number;

  constructor(options: AnswerCacheOptions) {
    this.#answers = new TtlCache(options.maxEntries, options.now);
    this.#minTtlMs = options.minTtlMs;
    this.#maxTtlMs = options.maxTtlMs;
  }

  /**
   * The cached answer, the one a running query is about to give, or a new query's. `query` throws
   * node:dns errors; a temporary failure rejects every waiter with the same DnsError.
   */
  lookup<T>(type: string, name: string, query: () => Promise<QueryResult<T>>): Promise<Answer<T>> {
    const key = cacheKey(type, name);
    // Each key is only ever filled by lookups of its own type, so the cast holds.
    const cached = this.#answers.get(key) as Answer<T> | undefined;
    if (cached) return Promise.resolve(cached);
    const running = this.#inFlight.get(key) as Promise<Answer<T>> | undefined;
    if (running) return running;
    const started = this.#ask(key, type, name, query).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, started);
    return started;
  }

  forget(type: string, name: string): void {
    this.#answers.delete(cacheKey(type, name));
  }

  get size(): number {
    return this.#answers.size;
  }

  async #ask<T>(
    key: string,
    type: string,
    name: string,
    query: () => Promise<QueryResult<T>>,
  ): Promise<Answer<T>> {
    let answer: Answer<T>;
    let ttlMs: number;
    try {
      const result = await query();
      answer = { kind: 'records', records: result.records };
      ttlMs = Math.max(result.ttlMs, this.#minTtlMs);
    } catch (error) {
      const dnsError = toDnsError(error, name, type);
      // SERVFAIL, REFUSED and timeouts are not cached (RFC 2308 §7 allows up to 5 minutes): the
      // waiters of the failed query already share it, and a retry, which delivery schedules with
      // its own backoff, must ask the server again rather than meet a remembered failure.
      if (dnsError.failure === 'temporary') throw dnsError;
      answer = { kind: 'negative', error: dnsError };
      // RFC 2308 §5: a negative answer lives as long as its SOA's TTL and MINIMUM allow. node:dns
      // does not pass the SOA on, so the floor stands in: short enough that a name or record
      // which appears is seen within seconds, long enough to spare a query per delivery.
      ttlMs = this.#minTtlMs;
    }
    this.#answers.set(key, answer, Math.min(ttlMs, this.#maxTtlMs));
    return answer;
  }
}

/** DNS names compare case-insensitively (RFC 4343). */
function cacheKey(type: string, name: string): string {
  return `${type} ${name.toLowerCase()}`;
}
