/**
 * The machine's load average, recorded at the start and end of every run: the machine is shared, and
 * a figure measured while something else ran is worth less (the reports say so).
 */
import { readFileSync } from 'node:fs';

export interface LoadAverage {
  /** 1, 5 and 15 minute averages, as /proc/loadavg has them. */
  one: number;
  five: number;
  fifteen: number;
  /** When it was read (ISO time). */
  at: string;
}

/** "1.83 0.97 0.39 1/148 11301" -> the three averages. */
export function parseLoadAverage(text: string, at = new Date()): LoadAverage {
  const [one = Number.NaN, five = Number.NaN, fifteen = Number.NaN] = text.trim().split(/\s+/).map(Number);
  return { one, five, fifteen, at: at.toISOString() };
}

export function loadAverage(): LoadAverage {
  try {
    return parseLoadAverage(readFileSync('/proc/loadavg', 'utf8'));
  } catch {
    return parseLoadAverage('');
  }
}

/**
 * Waits (at most `maxWaitMs`) until the 1-minute load average is at most `threshold`. Returns what it
 * saw first and last, and whether it gave up: a run that starts on a busy machine says so.
 */
export async function waitForLowLoad(
  threshold: number,
  maxWaitMs: number,
  onWait: (load: LoadAverage) => void,
): Promise<{ first: LoadAverage; last: LoadAverage; waitedMs: number; busy: boolean }> {
  const started = Date.now();
  const first = loadAverage();
  let last = first;
  for (let round = 0; last.one > threshold && Date.now() - started < maxWaitMs; round++) {
    if (round % 6 === 0) onWait(last);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    last = loadAverage();
  }
  return { first, last, waitedMs: Date.now() - started, busy: last.one > threshold };
}
