import type { SmtpChannel } from '@outpost/smtp-client';
import type { Lease } from './destination-limiter.ts';

/** An open SMTP connection kept after an attempt, with the destination slot it occupies. */
export interface PooledConnection {
  channel: SmtpChannel;
  lease?: Lease;
  host: string;
  address: string;
  port: number;
}

export interface PoolLimits {
  /** How long an idle connection is kept for the next job to the same destination. */
  idleMs: number;
  /** Transactions per connection, then it is closed (receivers limit these too). */
  maxTransactions: number;
  maxAgeMs: number;
}

export const DEFAULT_POOL_LIMITS: PoolLimits = { idleMs: 5_000, maxTransactions: 100, maxAgeMs: 300_000 };

/**
 * Idle connections per destination, reused by the next job to it. An idle connection keeps its
 * destination slot (the receiver counts it as a connection too) until it is reused or closed.
 */
export function createConnectionPool(limits: PoolLimits = DEFAULT_POOL_LIMITS) {
  const idle = new Map<string, Array<{ entry: PooledConnection; timer: NodeJS.Timeout }>>();

  const discard = (entry: PooledConnection): Promise<void> => {
    entry.channel.close();
    return entry.lease?.release().catch(() => {}) ?? Promise.resolve();
  };
  const fresh = (entry: PooledConnection) =>
    entry.channel.open &&
    entry.channel.transactions < limits.maxTransactions &&
    Date.now() - entry.channel.createdAt < limits.maxAgeMs;

  return {
    take(destination: string): PooledConnection | undefined {
      const entries = idle.get(destination);
      while (entries && entries.length > 0) {
        const { entry, timer } = entries.pop()!;
        clearTimeout(timer);
        if (fresh(entry)) return entry;
        void discard(entry);
      }
      idle.delete(destination);
      return undefined;
    },

    park(destination: string, entry: PooledConnection): void {
      if (!fresh(entry)) {
        void discard(entry);
        return;
      }
      const entries = idle.get(destination) ?? [];
      const timer = setTimeout(() => {
        const index = entries.findIndex((item) => item.entry === entry);
        if (index !== -1) entries.splice(index, 1);
        void discard(entry);
      }, limits.idleMs);
      timer.unref();
      entries.push({ entry, timer });
      idle.set(destination, entries);
    },

    get size(): number {
      return [...idle.values()].reduce((total, entries) => total + entries.length, 0);
    },

    /** Closes every idle connection; resolves once their slots are given back. */
    async closeAll(): Promise<void> {
      const releases: Promise<void>[] = [];
      for (const entries of idle.values()) {
        for (const { entry, timer } of entries) {
          clearTimeout(timer);
          releases.push(discard(entry));
        }
      }
      idle.clear();
      await Promise.all(releases);
    },
  };
}

export type ConnectionPool = ReturnType<typeof createConnectionPool>;
