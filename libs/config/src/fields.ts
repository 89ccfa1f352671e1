import { z } from 'zod';
import { parseByteSize, parseDuration, parseListenAddress } from './units.ts';

/**
 * The zod field kinds every service's configuration is made of, so that a duration, a size or a
 * listen address means and says the same in every OUTPOST_* variable.
 */

/** "a, b c" -> ['a', 'b', 'c'] */
export const list = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);

const toListenAddress = (text: string, ctx: z.RefinementCtx) => {
  const parsed = parseListenAddress(text);
  if (!parsed) ctx.addIssue({ code: 'custom', message: `expected host:port, got "${text}"` });
  return parsed;
};

/** "host:port" / "[v6]:port" / ":port" */
export const listen = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => toListenAddress(text, ctx) ?? { host: '', port: 0 });

export const optionalListen = z
  .string()
  .optional()
  .transform((text, ctx) => (text === undefined || text === '' ? undefined : toListenAddress(text, ctx)));

/** "250ms", "30s", "5m", "4h", "2d" -> milliseconds */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined)
        ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 5m, 4h, 2d' });
      return ms ?? 0;
    });

/** A duration that must be longer than zero (timeouts, windows). */
export const positiveDuration = (fallback: string) =>
  duration(fallback).refine((ms) => ms > 0, { message: 'must be longer than 0' });

/** "25MB", "512k", "1GiB" -> bytes, more than zero */
export const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const bytes = parseByteSize(text);
      if (bytes === undefined || bytes <= 0)
        ctx.addIssue({ code: 'custom', message: 'expected a size like 25MB or 1048576' });
      return bytes ?? 0;
    });

export const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((text) => ['true', '1', 'yes'].includes(text));

export const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);
