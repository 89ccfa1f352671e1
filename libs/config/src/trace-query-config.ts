import { z } from 'zod';
import { listen, positiveDuration } from './fields.ts';
import { ConfigError } from './load-config.ts';

/** An operator key as configured: its name (recorded as `by` on every action) and SHA-256. */
export interface OperatorKeyEntry {
  name: string;
  /** Hex SHA-256 of the key; the key itself is never configured. */
  sha256: string;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const HASH = /^sha256-([0-9a-f]{64})$/;

/**
 * OUTPOST_OPERATOR_KEYS: entries `name:sha256-<hex>` separated by newlines or ';' (the shape of
 * OUTPOST_API_KEYS without senders). Kept apart from submission keys: a key that may send mail
 * must not be able to read other people's deliveries or delete messages.
 */
function parseOperatorKeys(text: string, ctx: z.RefinementCtx): OperatorKeyEntry[] {
  const keys: OperatorKeyEntry[] = [];
  const entries = text
    .split(/[\n;]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '' && !entry.startsWith('#'));
  entries.forEach((entry, index) => {
    const [name = '', hash = '', ...extra] = entry.split(':');
    // Never echo the entry: it holds the hash.
    const where = `entry ${index + 1}${NAME.test(name) ? ` (${name})` : ''}`;
    const hex = hash.match(HASH)?.[1];
    const problem = !NAME.test(name)
      ? 'the name must be 1-64 of A-Z a-z 0-9 . _ -'
      : !hex
        ? 'the second field must be sha256-<64 hex digits>'
        : extra.length > 0
          ? "too many ':' fields"
          : keys.some((key) => key.name === name)
            ? 'duplicate name'
            : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: `${where}: ${problem}` });
    else keys.push({ name, sha256: hex! });
  });
  return keys;
}

const traceQuerySchema = z.object({
  OUTPOST_TRACE_QUERY_LISTEN: listen('0.0.0.0:8090'),
  OUTPOST_OPERATOR_KEYS: z.string().default('').transform(parseOperatorKeys),
  OUTPOST_TRACE_UI_URL: z
    .url({ protocol: /^https?$/, message: 'expected an http(s) URL like https://jaeger.example' })
    .optional()
    .transform((url) => url?.replace(/\/+$/, '')),
  // The same variable delivery reads: actions and held statuses live as long as the log's records.
  OUTPOST_LOG_RETENTION: positiveDuration('7d'),
  OUTPOST_WEBHOOK_URLS: z.string().default(''),
});

/** Settings only the trace-query service reads. */
export interface TraceQueryConfig {
  listen: { host: string; port: number };
  /** Empty: every /v1 request is refused (401). */
  operatorKeys: OperatorKeyEntry[];
  /** A trace UI (Jaeger, Tempo ...): messages link to `${traceUiUrl}/trace/<trace id>`. */
  traceUiUrl?: string;
  logRetentionMs: number;
  /** An operator's bounce is a recipient outcome: queued for the webhooks when some are configured. */
  webhooksEnabled: boolean;
}

export function loadTraceQueryConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<TraceQueryConfig> {
  // An empty variable means "not set", as in loadConfig.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = traceQuerySchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const raw = result.data;
  return Object.freeze({
    listen: raw.OUTPOST_TRACE_QUERY_LISTEN,
    operatorKeys: raw.OUTPOST_OPERATOR_KEYS,
    ...(raw.OUTPOST_TRACE_UI_URL && { traceUiUrl: raw.OUTPOST_TRACE_UI_URL }),
    logRetentionMs: raw.OUTPOST_LOG_RETENTION,
    webhooksEnabled: raw.OUTPOST_WEBHOOK_URLS.trim() !== '',
  });
}
