/**
 * The battery's settings from the environment (they only shape test runs, so turbo need not know
 * them): OUTPOST_RELIABILITY, OUTPOST_RELIABILITY_SEED, OUTPOST_FUZZ_RUNS, OUTPOST_FUZZ_SEED,
 * TEST_LOG_LEVEL.
 */
export function setting(name: string): string | undefined {
  return process.env[name];
}

/**
 * Scenario sizes: the CI subset by default, the sizes the issue names with OUTPOST_RELIABILITY=full
 * (`OUTPOST_RELIABILITY=full npm run test:reliability`).
 */
export const FULL = setting('OUTPOST_RELIABILITY') === 'full';

export function size(ci: number, full: number): number {
  return FULL ? full : ci;
}

/** A seeded PRNG (mulberry32): a failing scenario replays with the same faults. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: OUTPOST_RELIABILITY_SEED replays a run, otherwise a fresh one. */
export const SEED = Number(setting('OUTPOST_RELIABILITY_SEED') ?? Math.floor(Math.random() * 2 ** 31));
