import { z } from 'zod';
import { duration, listen, positiveDuration } from './fields.ts';
import { ConfigError } from './load-config.ts';

/** A plain mailbox: local@domain, no display name, no spaces. */
const MAILBOX = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

const CATEGORY_ID = /^[a-z_]+$/;

const bounceSchema = z.object({
  OUTPOST_DSN_COLLECT_WINDOW: positiveDuration('30s'),
  OUTPOST_BACKSCATTER_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(100),
  OUTPOST_POSTMASTER: z
    .string()
    .optional()
    .refine((text) => text === undefined || MAILBOX.test(text), {
      message: 'expected an address like postmaster@example.com',
    }),
  OUTPOST_SUPPRESSION_CATEGORIES: z
    .string()
    .default('no_such_user')
    .transform((text, ctx) => {
      if (text.trim().toLowerCase() === 'none') return [];
      const categories = text
        .split(/[\s,]+/)
        .map((item) => item.trim())
        .filter(Boolean);
      for (const category of categories) {
        if (!CATEGORY_ID.test(category))
          ctx.addIssue({ code: 'custom', message: `"${category}" is not a failure category id` });
      }
      return categories;
    }),
  OUTPOST_SUPPRESSION_TIME: duration('30d'),
  OUTPOST_DSN_LIFETIME: positiveDuration('2d'),
  OUTPOST_BOUNCE_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(10),
  OUTPOST_BOUNCE_HTTP_LISTEN: listen('0.0.0.0:8082'),
});

/** Settings only the bounce service reads. */
export interface BounceConfig {
  /** Failures of one message reported within this window go out as one DSN. */
  collectWindowMs: number;
  /** At most this many DSNs per sender address per hour; 0 = no limit. */
  backscatterLimit: number;
  /** Gets a copy of double bounces (failed mail whose sender is <>); none when unset. */
  postmaster?: string;
  /** Permanent failures of these categories put the recipient on the suppression list. */
  suppressionCategories: string[];
  /** How long an address stays suppressed; 0 turns automatic suppression off. */
  suppressionMs: number;
  /** How long delivery keeps trying to deliver a DSN. */
  dsnLifetimeMs: number;
  concurrency: number;
  /** Health, readiness and Prometheus metrics of the bounce process. */
  httpListen: { host: string; port: number };
}

export function loadBounceConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<BounceConfig> {
  // An empty variable means "not set", as in loadConfig.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = bounceSchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const raw = result.data;
  return Object.freeze({
    collectWindowMs: raw.OUTPOST_DSN_COLLECT_WINDOW,
    backscatterLimit: raw.OUTPOST_BACKSCATTER_LIMIT,
    ...(raw.OUTPOST_POSTMASTER !== undefined && { postmaster: raw.OUTPOST_POSTMASTER }),
    suppressionCategories: raw.OUTPOST_SUPPRESSION_CATEGORIES,
    suppressionMs: raw.OUTPOST_SUPPRESSION_TIME,
    dsnLifetimeMs: raw.OUTPOST_DSN_LIFETIME,
    concurrency: raw.OUTPOST_BOUNCE_CONCURRENCY,
    httpListen: raw.OUTPOST_BOUNCE_HTTP_LISTEN,
  });
}
