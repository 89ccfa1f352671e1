import { randomUUID } from 'node:crypto';
import { QUEUE_PREFIX, redisScript } from '@outpost/queue';
import type { Redis } from 'ioredis';

/**
 * Cluster-wide connection limits per destination (the receiving side of the FAQ's "server A allows
 * 50 connections"). A destination is the set of MX hosts of a domain, so every domain hosted on the
 * same MX shares one limit. Slots are leases in Redis with a TTL: a crashed worker's slots free
 * themselves. The window adapts: connection trouble halves it, successes widen it again; when a
 * whole attempt found the destination dead, it is paused and its jobs wait instead of each retrying.
 *
 * A destination that answers but defers everything ("450 4.5.0 Mail system is busy" to every
 * recipient, the FAQ's overloaded server; a receiver's rate limit) is backed off the same way once
 * `backoffAfter` attempts in a row got nothing but 4xx replies: its other jobs wait for the pause
 * instead of each opening a session only to be deferred. Large senders' MTAs do this (PowerMTA's
 * backoff mode, KumoMTA's suspensions); a reply that delivers or bounces anything ends the streak.
 */
export interface DestinationLimits {
  initialWindow: number;
  maxWindow: number;
  leaseMs: number;
  /** Attempts in a row deferred at every recipient after which the destination pauses (0: never). */
  backoffAfter: number;
}

export const DEFAULT_DESTINATION_LIMITS: DestinationLimits = {
  initialWindow: 5,
  maxWindow: 20,
  leaseMs: 60_000,
  backoffAfter: 10,
};

/** How an attempt went, for the destination's window and streak. */
export type AttemptTrouble =
  /** Some recipient got a definite answer: delivered, or refused for good. */
  | 'ok'
  /** Some session was greeted, but nobody got a definite answer (the session broke off, say). */
  | 'reachable'
  /** No session got a usable greeting: refused, timed out, 421. */
  | 'trouble'
  /** Greeted, but every recipient got a temporary reply about the destination (deferredEverything). */
  | 'deferred-all';

export type SlotAnswer =
  | { granted: true; lease: Lease }
  | { granted: false; retryAt: number; reason: 'busy' | 'paused' };

export interface Lease {
  destination: string;
  release(): Promise<void>;
}

export interface DestinationState {
  destination: string;
  window: number;
  inFlight: number;
  pausedUntil?: number;
  /** Why it is paused: no session got a greeting, or it deferred everything (the backoff). */
  pauseCause?: 'unreachable' | 'deferred-all';
  lastError?: string;
}

// KEYS: leases zset, state hash, destinations index. ARGV: now, lease id, lease ms, initial
// window, destination. Returns {1} granted, or {0, retryAt, reason}.
const ACQUIRE = redisScript(`
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local paused = tonumber(redis.call('HGET', KEYS[2], 'pausedUntil') or '0')
if paused > tonumber(ARGV[1]) then return {0, paused, 'paused'} end
local window = tonumber(redis.call('HGET', KEYS[2], 'window') or ARGV[4])
if redis.call('ZCARD', KEYS[1]) < window then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return {1}
end
-- Busy: a slot is likely free after about one typical session.
local typical = tonumber(redis.call('HGET', KEYS[2], 'sessionMs') or '1000')
return {0, tonumber(ARGV[1]) + typical, 'busy'}
`);

// KEYS: state hash, parked jobs. ARGV: 1 outcome (AttemptTrouble), 2 initial, 3 max, 4 error text,
// 5 state ttl ms, 6 now, 7 session duration ms (kept as a moving average: how long a slot is
// typically held), 8 backoffAfter (0: never), 9 pause until, 10 quiet ms, 11 stale ms.
// Returns {window, pausedUntil or 0, 1 when this call started the pause, 1 when a definite answer
// found jobs parked behind a pause (holdBack): the caller releases them}.
//
// The streak counts blanket deferrals with no definite answer (okAt) between them, each within
// `stale` of the one before. A process that saw the window at its maximum skips writing its
// successes for `quiet` ms after one it wrote (AT_MAX_RESAMPLE_MS): so a deferral counts only when
// the last written success is older than that, and no unwritten success can hide behind it. Both
// times are Redis's own clock (TIME), so workers on hosts with skewed clocks agree.
const ADAPT = redisScript(`
local time = redis.call('TIME')
local clock = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(redis.call('HGET', KEYS[1], 'window') or ARGV[2])
local typical = tonumber(redis.call('HGET', KEYS[1], 'sessionMs') or ARGV[7])
redis.call('HSET', KEYS[1], 'sessionMs', math.floor(typical * 0.8 + tonumber(ARGV[7]) * 0.2))
local paused, started, release = 0, 0, 0
if ARGV[1] == 'ok' or ARGV[1] == 'reachable' then
  window = math.min(tonumber(ARGV[3]), window + 1)
  if ARGV[1] == 'ok' then
    redis.call('HSET', KEYS[1], 'okAt', clock)
    redis.call('HDEL', KEYS[1], 'deferredStreak')
    -- A definite answer ends a backoff at once (a pause for unreachability runs its course).
    if redis.call('HGET', KEYS[1], 'pauseCause') == 'deferred-all' then
      redis.call('HDEL', KEYS[1], 'pausedUntil', 'pauseCause')
    end
    release = redis.call('EXISTS', KEYS[2])
  end
elseif ARGV[1] == 'trouble' then
  window = math.max(1, math.floor(window / 2))
  redis.call('HSET', KEYS[1], 'lastError', ARGV[4], 'lastErrorAt', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'lastError', ARGV[4], 'lastErrorAt', ARGV[6])
  local okAt = tonumber(redis.call('HGET', KEYS[1], 'okAt') or '0')
  if clock - okAt > tonumber(ARGV[10]) then
    local deferredAt = tonumber(redis.call('HGET', KEYS[1], 'deferredAt') or '0')
    local streak = 1
    if clock - deferredAt > tonumber(ARGV[11]) then
      redis.call('HSET', KEYS[1], 'deferredStreak', 1)
    else
      streak = redis.call('HINCRBY', KEYS[1], 'deferredStreak', 1)
    end
    redis.call('HSET', KEYS[1], 'deferredAt', clock)
    local after = tonumber(ARGV[8])
    if after > 0 and streak >= after then
      local current = tonumber(redis.call('HGET', KEYS[1], 'pausedUntil') or '0')
      if current <= tonumber(ARGV[6]) then started = 1 end
      -- Also when it outlasts a pause for unreachability: a success may then end it.
      if started == 1 or tonumber(ARGV[9]) > current then
        redis.call('HSET', KEYS[1], 'pauseCause', 'deferred-all')
      end
      paused = math.max(current, tonumber(ARGV[9]))
      redis.call('HSET', KEYS[1], 'pausedUntil', paused)
    end
  end
end
redis.call('HSET', KEYS[1], 'window', window)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return {window, paused, started, release}
`);

// KEYS: state hash, parked jobs. ARGV: 1 now, 2 job id, 3 the parked set's ttl ms.
// Returns {pausedUntil or 0, 1 when this job is the pause's probe}. While the destination is
// paused, the first job to ask for this pause (its pausedUntil) is its probe: it comes back at the
// pause's end. Every other one is parked: listed here, it comes back later, or as soon as a
// definite answer at the destination releases the list (ADAPT).
const HOLD_BACK = redisScript(`
local pausedUntil = redis.call('HGET', KEYS[1], 'pausedUntil')
if not pausedUntil or tonumber(pausedUntil) <= tonumber(ARGV[1]) then return {0, 0} end
if redis.call('HGET', KEYS[1], 'probeFor') ~= pausedUntil then
  redis.call('HSET', KEYS[1], 'probeFor', pausedUntil)
  return {tonumber(pausedUntil), 1}
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return {tonumber(pausedUntil), 0}
`);

// KEYS: parked jobs. Returns their ids, and empties the list.
const TAKE_PARKED = redisScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return ids
`);

const STATE_TTL_MS = 7 * 86_400_000;

export function destinationKeyOf(hosts: readonly { host: string; port: number }[]): string {
  return [...new Set(hosts.map((entry) => `${entry.host}:${entry.port}`))].sort().join(',');
}

/**
 * A success at the window's maximum changes nothing but the session-time average; after this
 * process saw the maximum, further successes to that destination skip Redis for this long (the
 * average is then sampled about once a second, which keeps it current enough for its one use).
 */
const AT_MAX_RESAMPLE_MS = 1_000;

export function createDestinationLimiter(
  redis: Redis,
  chosen: Partial<DestinationLimits> = {},
  clock: () => number = Date.now,
) {
  const limits: DestinationLimits = { ...DEFAULT_DESTINATION_LIMITS, ...chosen };
  const atMaxUntil = new Map<string, number>();
  const keys = (destination: string) => ({
    leases: `${QUEUE_PREFIX}:dest:${destination}:leases`,
    state: `${QUEUE_PREFIX}:dest:${destination}:state`,
    parked: `${QUEUE_PREFIX}:dest:${destination}:parked`,
  });
  const index = `${QUEUE_PREFIX}:destinations`;

  return {
    async acquire(destination: string, now = Date.now()): Promise<SlotAnswer> {
      const { leases, state } = keys(destination);
      const id = randomUUID();
      // One round trip: the slot and the destination's entry in the operators' index.
      const answer = (await ACQUIRE.run(
        redis,
        [leases, state, index],
        [now, id, limits.leaseMs, limits.initialWindow, destination],
      )) as [1] | [0, number, 'busy' | 'paused'];
      if (answer[0] === 0) return { granted: false, retryAt: answer[1], reason: answer[2] };
      // Renew while the session runs, so a long session keeps its slot but a dead worker's expires.
      // The set's own expiry is renewed too: a kept connection holds its lease through many jobs
      // with no new grant, and a set that expired under live leases would grant a whole new window.
      const renew = setInterval(() => {
        void redis.zadd(leases, 'XX', Date.now() + limits.leaseMs, id).catch(() => {});
        void redis.pexpire(leases, limits.leaseMs * 2).catch(() => 0);
      }, limits.leaseMs / 3);
      renew.unref();
      return {
        granted: true,
        lease: {
          destination,
          release: async () => {
            clearInterval(renew);
            await redis.zrem(leases, id).catch(() => 0);
          },
        },
      };
    },

    /**
     * Success widens the window by one; connection trouble (refused, timeout, 421) halves it; an
     * attempt deferred at every recipient counts towards `backoffAfter`, and from there on each
     * such attempt pauses the destination until `pauseUntil` (returned as `pausedUntil`;
     * `started` when this call began the pause). A definite answer ends such a pause.
     */
    async adapt(
      destination: string,
      outcome: AttemptTrouble,
      error = '',
      sessionMs = 1_000,
      pauseUntil = 0,
    ): Promise<{ window: number; pausedUntil?: number; started?: boolean; releaseParked?: boolean }> {
      const now = clock();
      const answered = outcome === 'ok' || outcome === 'reachable';
      if (answered && (atMaxUntil.get(destination) ?? 0) > now) return { window: limits.maxWindow };
      const { state, parked } = keys(destination);
      const [window, pausedUntil, started, release] = (
        (await ADAPT.run(
          redis,
          [state, parked],
          [
            outcome,
            limits.initialWindow,
            limits.maxWindow,
            error.slice(0, 300),
            STATE_TTL_MS,
            now,
            Math.max(1, Math.round(sessionMs)),
            limits.backoffAfter,
            pauseUntil,
            AT_MAX_RESAMPLE_MS,
            // A streak survives the pause it caused (the first deferral after it renews the pause).
            Math.max(2 * (pauseUntil - now), AT_MAX_RESAMPLE_MS),
          ],
        )) as [number, number, number, number]
      ).map(Number) as [number, number, number, number];
      // Only after a written success may the next ones skip Redis (the streak relies on it).
      if (outcome === 'ok' && window >= limits.maxWindow) {
        // Bounded: a worker that met very many destinations starts over.
        if (atMaxUntil.size >= 10_000) atMaxUntil.clear();
        atMaxUntil.set(destination, now + AT_MAX_RESAMPLE_MS);
      } else if (outcome !== 'reachable') atMaxUntil.delete(destination);
      return {
        window,
        ...(pausedUntil > 0 && { pausedUntil, started: started === 1 }),
        ...(release === 1 && { releaseParked: true }),
      };
    },

    /**
     * For a job that found the destination paused: until when it is, and whether this job is the
     * pause's probe (the first to ask: it comes back at the pause's end); any other job is parked
     * (takeParked). 0 when the destination is not paused (one script call, as pausedUntil).
     */
    async holdBack(
      destination: string,
      jobId: string,
      now = Date.now(),
    ): Promise<{ pausedUntil: number; probe: boolean }> {
      const { state, parked } = keys(destination);
      const [pausedUntil, probe] = (
        (await HOLD_BACK.run(redis, [state, parked], [now, jobId, STATE_TTL_MS])) as [number, number]
      ).map(Number) as [number, number];
      return { pausedUntil, probe: probe === 1 };
    },

    /** The ids of the jobs parked behind the destination's pauses; the list is emptied. */
    async takeParked(destination: string): Promise<string[]> {
      return (await TAKE_PARKED.run(redis, [keys(destination).parked], [])) as string[];
    },

    /** Until when the destination is paused (0 when it is not): one HGET. */
    async pausedUntil(destination: string): Promise<number> {
      return Number((await redis.hget(keys(destination).state, 'pausedUntil')) ?? 0);
    },

    async pause(destination: string, until: number, reason: string): Promise<void> {
      const { state } = keys(destination);
      await redis.hset(
        state,
        'pausedUntil',
        String(until),
        'pauseCause',
        'unreachable',
        'lastError',
        reason.slice(0, 300),
      );
      await redis.pexpire(state, STATE_TTL_MS);
      await redis.zadd(index, Date.now(), destination);
    },

    /** Ends a pause, and the streak of deferrals behind a backoff (the operator says: try again). */
    async resume(destination: string): Promise<void> {
      await redis.hdel(keys(destination).state, 'pausedUntil', 'pauseCause', 'deferredStreak');
    },

    async list(now = Date.now()): Promise<DestinationState[]> {
      const destinations = await redis.zrevrange(index, 0, 999);
      const states: DestinationState[] = [];
      for (const destination of destinations) {
        const { leases, state } = keys(destination);
        await redis.zremrangebyscore(leases, '-inf', now);
        const [fields, inFlight] = await Promise.all([redis.hgetall(state), redis.zcard(leases)]);
        const pausedUntil = Number(fields.pausedUntil ?? 0);
        states.push({
          destination,
          window: Number(fields.window ?? limits.initialWindow),
          inFlight,
          ...(pausedUntil > now && {
            pausedUntil,
            ...((fields.pauseCause === 'unreachable' || fields.pauseCause === 'deferred-all') && {
              pauseCause: fields.pauseCause,
            }),
          }),
          ...(fields.lastError && { lastError: fields.lastError }),
        });
      }
      return states;
    },
  };
}

export type DestinationLimiter = ReturnType<typeof createDestinationLimiter>;
