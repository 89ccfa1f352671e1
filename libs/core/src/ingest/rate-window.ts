/** At most `limit` events per `windowMs`. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** The two fixed windows a sliding-window estimate reads, and how far into the current one `now` is. */
export interface RateWindowSlots {
  current: number;
  previous: number;
  /** 0 at the start of the current window, approaching 1 at its end. */
  elapsed: number;
}

export function rateWindowSlots(now: number, windowMs: number): RateWindowSlots {
  const current = Math.floor(now / windowMs);
  return { current, previous: current - 1, elapsed: (now - current * windowMs) / windowMs };
}

/**
 * Sliding-window counter: the previous window's count weighted by how much of it still lies within
 * the last `windowMs`, plus the current window's count. Two counters per subject instead of one
 * entry per event, and no burst of twice the limit at a window boundary as fixed windows allow.
 */
export function slidingWindowCount(previousCount: number, currentCount: number, elapsed: number): number {
  return previousCount * (1 - elapsed) + currentCount;
}

/** Whether the event just counted (already included in `currentCount`) goes beyond the limit. */
export function exceedsRateLimit(
  limit: RateLimit,
  counts: { previous: number; current: number },
  elapsed: number,
): boolean {
  return slidingWindowCount(counts.previous, counts.current, elapsed) > limit.limit;
}
