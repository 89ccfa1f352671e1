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
 * Each connection retires at its own share (80-100%) of the limits. With one shared limit the
 * connections opened together under a steady load all reach it together, and every destination
 * reconnects at the same moment: a burst of handshakes that delays the messages waiting on them.
 */
const RETIREMENT_SPREAD = 0.2;

/** What the pool needs of a connection (SmtpChannel has it). */
export type PoolableChannel = Pick<SmtpChannel, 'open' | 'transactions' | 'createdAt' | 'close'>;

/**
 * Idle connections per destination, reused by the next job to it. An idle connection keeps its
 * destination slot (the receiver counts it as a connection too) until it is reused or closed.
 */
export function createConnectionPool(
  limits: PoolLimits = DEFAULT_POOL_LIMITS,
  options: { random?: () => number; now?: () => number } = {},
) {
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const idle = new Map<string, Array<{ entry: PooledConnection; timer: NodeJS.Timeout }>>();
  const ownLimits = new WeakMap<PoolableChannel, { transactions: number; ageMs: number }>();
  const limitsOf = (channel: PoolableChannel) => {
    let own = ownLimits.get(channel);
    if (!own) {
      const share = 1 - RETIREMENT_SPREAD * random();
      own = {
        transactions: Math.max(1, Math.round(limits.maxTransactions * share)),
        ageMs: limits.maxAgeMs * share,
      };
      ownLimits.set(channel, own);
    }
    return own;
  };

  const discard = (entry: PooledConnection): Promise<void> => {
    entry.channel.close();
    return entry.lease?.release().catch(() => {}) ?? Promise.resolve();
  };
  const fresh = ({ channel }: PooledConnection) => {
    if (!channel.open) return false;
    const own = limitsOf(channel);
    return channel.transactions < own.transactions && now() - channel.createdAt < own.ageMs;
  };

  /** Closes the destination's idle connections (it was paused); resolves once their slots are back. */
  const closeDestination = async (destination: string): Promise<void> => {
    const entries = idle.get(destination) ?? [];
    idle.delete(destination);
    await Promise.all(
      entries.map(({ entry, timer }) => {
        clearTimeout(timer);
        return discard(entry);
      }),
    );
  };

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

    closeDestination,

    get size(): number {
      return [...idle.values()].reduce((total, entries) => total + entries.length, 0);
    },

    /** Closes every idle connection; resolves once their slots are given back. */
    async closeAll(): Promise<void> {
      await Promise.all([...idle.keys()].map(closeDestination));
    },
  };
}

export type ConnectionPool = ReturnType<typeof createConnectionPool>;
