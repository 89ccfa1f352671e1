/**
 * The destinations this process found paused (unreachable, or deferring everything), until when,
 * and the domains routed to them. While a pause lasts, the next job for such a domain asks Redis
 * (one script call: is the destination still paused?) instead of loading its message, its
 * suppression entries and a slot, and no kept connection carries mail to it: a backed-off
 * destination with thousands of queued messages then costs the workers little more than moving each
 * job back (one probes the pause's end, the others are parked: destination-limiter.ts, holdBack).
 * Redis stays the authority: an operator's resume or flush clears the pause there, and the next job
 * sees it.
 */
export interface PausedDomains {
  note(domain: string, destination: string, until: number): void;
  /** The destination and pause end noted for the domain, while that end is still ahead. */
  get(domain: string, now: number): { destination: string; until: number } | undefined;
  /** Whether this process noted the destination as paused at `now`. */
  isPaused(destination: string, now: number): boolean;
  forget(domain: string): void;
}

export function createPausedDomains(maxEntries = 10_000): PausedDomains {
  const domains = new Map<string, string>();
  const destinations = new Map<string, number>();
  // Bounded: past this many the oldest note goes (its jobs take the full path once more).
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key);
    if (map.size >= maxEntries) map.delete(map.keys().next().value!);
    map.set(key, value);
  };
  const untilOf = (destination: string, now: number) => {
    const until = destinations.get(destination) ?? 0;
    if (until > now) return until;
    destinations.delete(destination);
    return 0;
  };
  return {
    note(domain, destination, until) {
      remember(domains, domain, destination);
      remember(destinations, destination, until);
    },
    get(domain, now) {
      const destination = domains.get(domain);
      if (destination === undefined) return undefined;
      const until = untilOf(destination, now);
      if (until === 0) domains.delete(domain);
      return until > 0 ? { destination, until } : undefined;
    },
    isPaused(destination, now) {
      return untilOf(destination, now) > 0;
    },
    forget(domain) {
      const destination = domains.get(domain);
      domains.delete(domain);
      if (destination !== undefined) destinations.delete(destination);
    },
  };
}
