import { z } from 'zod';
import { positiveDuration } from './fields.ts';
import { ConfigError } from './load-config.ts';

const webhookSchema = z.object({
  OUTPOST_WEBHOOK_URLS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const urls = text.split(/[\s,]+/).filter(Boolean);
      for (const url of urls) {
        if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
          ctx.addIssue({ code: 'custom', message: `"${url}" is not an http(s) URL` });
        else if (new URL(url).username || new URL(url).password) {
          // fetch refuses such a URL (no request is ever sent), and the error text would carry it.
          const { origin } = new URL(url);
          ctx.addIssue({
            code: 'custom',
            message: `a URL for ${origin} carries a user name or password: the receiver checks the signature (OUTPOST_WEBHOOK_SECRET) instead`,
          });
        }
      }
      return urls;
    }),
  OUTPOST_WEBHOOK_SECRET: z.string().optional(),
  OUTPOST_WEBHOOK_TIMEOUT: positiveDuration('10s'),
  OUTPOST_WEBHOOK_RETRY_FIRST: positiveDuration('10s'),
  OUTPOST_WEBHOOK_RETRY_MAX: positiveDuration('1h'),
  OUTPOST_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(15),
  OUTPOST_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(10),
});

/** Settings only the webhook sender reads. */
export interface WebhookConfig {
  /** Every event goes to each of these; empty turns webhooks off. */
  urls: string[];
  /** Signs every request (HMAC-SHA256); required when there are URLs. */
  secret: string;
  timeoutMs: number;
  /** Exponential backoff between tries to one URL: first delay, doubling up to the maximum. */
  retry: { firstDelayMs: number; maxDelayMs: number; maxAttempts: number };
  concurrency: number;
}

export function loadWebhookConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<WebhookConfig> {
  // An empty variable means "not set", as in loadConfig.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = webhookSchema.safeParse(present);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  const raw = result.data;
  // Unsigned events could be forged by anyone who can reach the receiver.
  if (raw && raw.OUTPOST_WEBHOOK_URLS.length > 0 && (raw.OUTPOST_WEBHOOK_SECRET ?? '').length < 16)
    problems.push('OUTPOST_WEBHOOK_SECRET: required with OUTPOST_WEBHOOK_URLS, at least 16 characters');
  if (!raw || problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    urls: raw.OUTPOST_WEBHOOK_URLS,
    secret: raw.OUTPOST_WEBHOOK_SECRET ?? '',
    timeoutMs: raw.OUTPOST_WEBHOOK_TIMEOUT,
    retry: {
      firstDelayMs: raw.OUTPOST_WEBHOOK_RETRY_FIRST,
      maxDelayMs: Math.max(raw.OUTPOST_WEBHOOK_RETRY_MAX, raw.OUTPOST_WEBHOOK_RETRY_FIRST),
      maxAttempts: raw.OUTPOST_WEBHOOK_MAX_ATTEMPTS,
    },
    concurrency: raw.OUTPOST_WEBHOOK_CONCURRENCY,
  });
}
