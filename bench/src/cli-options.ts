/** Command-line helpers shared by the benchmarks. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redisServerBinary } from '@outpost/testing';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** A bad option: the benchmark prints the message and its usage, and exits with 2. */
export class UsageError extends Error {}

/** "a,b" -> ['a', 'b'], each one of `allowed`; `fallback` when the option is absent. */
export function listOption<T extends string>(
  text: string | undefined,
  allowed: readonly T[],
  name: string,
  fallback: readonly T[] = allowed,
): T[] {
  if (text === undefined) return [...fallback];
  const values = text.split(',').map((value) => value.trim());
  for (const value of values) {
    if (!allowed.includes(value as T))
      throw new UsageError(`--${name}: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return values as T[];
}

export function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name}: expected a positive integer`);
  return value;
}

export function nonNegativeInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = text.trim() === '' ? Number.NaN : Number(text); // Number('') is 0
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${name}: expected an integer >= 0`);
  return value;
}

/** "1,2,4" -> [1, 2, 4]. */
export function integerList(text: string | undefined, fallback: number[], name: string): number[] {
  if (text === undefined) return fallback;
  return text.split(',').map((value) => positiveInteger(value.trim(), 0, name));
}

export function redisVersion(): string {
  const probe = spawnSync(redisServerBinary(), ['--version'], { encoding: 'utf8' });
  return probe.stdout.match(/v=(\S+)/)?.[1] ?? 'unknown';
}

export function versionAtLeast(version: string, minimum: string): boolean {
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return true;
}

/** 2026-11-27T19-54: for result file names. */
export function timestamp(date: Date): string {
  return date.toISOString().slice(0, 16).replace(':', '-');
}
