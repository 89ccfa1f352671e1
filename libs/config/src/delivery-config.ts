import { isIP } from 'node:net';
import { z } from 'zod';
import { byteSize, duration, integer, listen, positiveDuration } from './fields.ts';
import { ConfigError } from './load-config.ts';

/** A list of IP addresses, comma or space separated. */
const ipList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const addresses = text.split(/[\s,]+/).filter(Boolean);
    for (const address of addresses) {
      if (isIP(address) === 0) ctx.addIssue({ code: 'custom', message: `"${address}" is not an IP address` });
    }
    return addresses;
  });

const deliverySchema = z.object({
  OUTPOST_DELIVERY_CONCURRENCY: integer(20, 1, 1_000),
  OUTPOST_IP_FAMILIES: z.enum(['both', 'ipv4', 'ipv6']).default('both'),
  OUTPOST_SOURCE_ADDRESSES: ipList,
  // The addresses receivers see us connect from (behind NAT, not discoverable offline): `outpost doctor`.
  OUTPOST_PUBLIC_IPS: ipList,
  OUTPOST_MAX_ADDRESSES_PER_ATTEMPT: integer(10, 1, 100),
  OUTPOST_MAX_SESSIONS_PER_ATTEMPT: integer(2, 1, 20),
  OUTPOST_MAX_RECIPIENTS_PER_TRANSACTION: integer(50, 1, 1_000),
  OUTPOST_SMTP_CONNECT_TIMEOUT: duration('30s'),
  OUTPOST_SMTP_GREETING_TIMEOUT: duration('5m'),
  OUTPOST_SMTP_COMMAND_TIMEOUT: duration('10m'),
  OUTPOST_SMTP_HELO_TIMEOUT: duration('5m'),
  OUTPOST_SMTP_STARTTLS_TIMEOUT: duration('5m'),
  OUTPOST_SMTP_MAIL_TIMEOUT: duration('5m'),
  OUTPOST_SMTP_RCPT_TIMEOUT: duration('5m'),
  OUTPOST_SMTP_DATA_TIMEOUT: duration('2m'),
  OUTPOST_SMTP_END_OF_DATA_TIMEOUT: duration('10m'),
  OUTPOST_DNS_TIMEOUT: duration('5s'),
  OUTPOST_RETRY_FIRST: duration('5m'),
  OUTPOST_RETRY_MAX: duration('60m'),
  OUTPOST_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).optional(),
  OUTPOST_TLS_BROKEN_MEMORY: duration('1d'),
  OUTPOST_JOB_LOCK_DURATION: duration('60s'),
  OUTPOST_JOB_STALLED_INTERVAL: duration('30s'),
  OUTPOST_JOB_MAX_STALLED_COUNT: integer(1, 0, 100),
  OUTPOST_FAILED_SWEEP_INTERVAL: duration('60s'),
  OUTPOST_DESTINATION_WINDOW_START: integer(5, 1, 1_000),
  OUTPOST_DESTINATION_WINDOW_MAX: integer(20, 1, 1_000),
  OUTPOST_DESTINATION_LEASE: duration('60s'),
  OUTPOST_DESTINATION_BACKOFF_AFTER: integer(10, 0, 1_000_000),
  OUTPOST_DELAY_WARNING: duration('4h'),
  OUTPOST_WEBHOOK_URLS: z.string().default(''),
  OUTPOST_CONNECTION_IDLE: duration('5s'),
  OUTPOST_CONNECTION_MAX_MESSAGES: integer(100, 1, 100_000),
  OUTPOST_CONNECTION_MAX_AGE: duration('5m'),
  OUTPOST_LOG_RETENTION: duration('7d'),
  OUTPOST_LOG_MAX_BYTES: byteSize('256MB'),
  OUTPOST_TRANSCRIPT_MAX_BYTES: integer(32 * 1024, 1024, 10 * 1024 * 1024),
  OUTPOST_DELIVERY_HTTP_LISTEN: listen('0.0.0.0:8081'),
  // RFC 8461: honour the receivers' MTA-STS policies (enforce and testing), or ignore them.
  OUTPOST_MTA_STS: z.enum(['on', 'off']).default('on'),
  OUTPOST_MTA_STS_PORT: integer(443, 1, 65535),
  OUTPOST_MTA_STS_CA_FILE: z.string().optional(),
  // §3.3: "A suggested timeout is one minute".
  OUTPOST_MTA_STS_TIMEOUT: positiveDuration('60s'),
});

/** Settings only delivery workers read. */
export interface DeliveryConfig {
  concurrency: number;
  ipFamilies: 'both' | 'ipv4' | 'ipv6';
  sourceAddresses: string[];
  /** Where receivers see our mail come from, for `outpost doctor`; empty: unknown. */
  publicIps: string[];
  maxAddressesPerAttempt: number;
  maxSessionsPerAttempt: number;
  maxRecipientsPerTransaction: number;
  timeouts: { connectMs: number; greetingMs: number; commandMs: number };
  /** RFC 5321 §4.5.3.2 reply timeouts per command. */
  replyTimeouts: {
    heloMs: number;
    starttlsMs: number;
    mailMs: number;
    rcptMs: number;
    dataMs: number;
    endOfDataMs: number;
  };
  dnsTimeoutMs: number;
  retry: { firstDelayMs: number; maxDelayMs: number; maxAttempts?: number };
  tlsBrokenMemoryMs: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  maxStalledCount: number;
  failedSweepIntervalMs: number;
  /** Connections per destination across all workers: the adaptive window's start and ceiling. */
  destinationLimits: { initialWindow: number; maxWindow: number; leaseMs: number };
  /** The delivery log's retention (libs/store). */
  logRetention: { maxAgeMs: number; maxBytes: number; maxTranscriptBytes: number };
  /** Idle connections kept per destination for the next job (0 ms idle = no reuse). */
  connectionReuse: { idleMs: number; maxTransactions: number; maxAgeMs: number };
  /** Recipient outcomes are queued for webhooks only when some are configured. */
  webhooksEnabled: boolean;
  /** After this long in the queue the sender gets one "delayed" DSN (0 = never). */
  delayWarningMs: number;
  /** Health, readiness and Prometheus metrics of the worker process. */
  httpListen: { host: string; port: number };
  /**
   * MTA-STS (RFC 8461): whether policies are honoured, the policy hosts' HTTPS port, a PEM file of
   * extra CAs trusted for policy hosts and MX certificates (tests, private PKI), the fetch timeout.
   */
  mtaSts: { enabled: boolean; port: number; caFile?: string; fetchTimeoutMs: number };
}

export function loadDeliveryConfig(
  env: Record<string, string | undefined> = process.env,
): Readonly<DeliveryConfig> {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const result = deliverySchema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const raw = result.data;
  return Object.freeze({
    concurrency: raw.OUTPOST_DELIVERY_CONCURRENCY,
    ipFamilies: raw.OUTPOST_IP_FAMILIES,
    sourceAddresses: raw.OUTPOST_SOURCE_ADDRESSES,
    publicIps: raw.OUTPOST_PUBLIC_IPS,
    maxAddressesPerAttempt: raw.OUTPOST_MAX_ADDRESSES_PER_ATTEMPT,
    maxSessionsPerAttempt: raw.OUTPOST_MAX_SESSIONS_PER_ATTEMPT,
    maxRecipientsPerTransaction: raw.OUTPOST_MAX_RECIPIENTS_PER_TRANSACTION,
    timeouts: {
      connectMs: raw.OUTPOST_SMTP_CONNECT_TIMEOUT,
      greetingMs: raw.OUTPOST_SMTP_GREETING_TIMEOUT,
      commandMs: raw.OUTPOST_SMTP_COMMAND_TIMEOUT,
    },
    replyTimeouts: {
      heloMs: raw.OUTPOST_SMTP_HELO_TIMEOUT,
      starttlsMs: raw.OUTPOST_SMTP_STARTTLS_TIMEOUT,
      mailMs: raw.OUTPOST_SMTP_MAIL_TIMEOUT,
      rcptMs: raw.OUTPOST_SMTP_RCPT_TIMEOUT,
      dataMs: raw.OUTPOST_SMTP_DATA_TIMEOUT,
      endOfDataMs: raw.OUTPOST_SMTP_END_OF_DATA_TIMEOUT,
    },
    dnsTimeoutMs: raw.OUTPOST_DNS_TIMEOUT,
    retry: {
      firstDelayMs: raw.OUTPOST_RETRY_FIRST,
      maxDelayMs: raw.OUTPOST_RETRY_MAX,
      ...(raw.OUTPOST_RETRY_MAX_ATTEMPTS !== undefined && { maxAttempts: raw.OUTPOST_RETRY_MAX_ATTEMPTS }),
    },
    tlsBrokenMemoryMs: raw.OUTPOST_TLS_BROKEN_MEMORY,
    lockDurationMs: raw.OUTPOST_JOB_LOCK_DURATION,
    stalledIntervalMs: raw.OUTPOST_JOB_STALLED_INTERVAL,
    maxStalledCount: raw.OUTPOST_JOB_MAX_STALLED_COUNT,
    failedSweepIntervalMs: raw.OUTPOST_FAILED_SWEEP_INTERVAL,
    destinationLimits: {
      initialWindow: Math.min(raw.OUTPOST_DESTINATION_WINDOW_START, raw.OUTPOST_DESTINATION_WINDOW_MAX),
      maxWindow: raw.OUTPOST_DESTINATION_WINDOW_MAX,
      leaseMs: raw.OUTPOST_DESTINATION_LEASE,
      backoffAfter: raw.OUTPOST_DESTINATION_BACKOFF_AFTER,
    },
    httpListen: raw.OUTPOST_DELIVERY_HTTP_LISTEN,
    delayWarningMs: raw.OUTPOST_DELAY_WARNING,
    webhooksEnabled: raw.OUTPOST_WEBHOOK_URLS.trim() !== '',
    connectionReuse: {
      idleMs: raw.OUTPOST_CONNECTION_IDLE,
      maxTransactions: raw.OUTPOST_CONNECTION_MAX_MESSAGES,
      maxAgeMs: raw.OUTPOST_CONNECTION_MAX_AGE,
    },
    logRetention: {
      maxAgeMs: raw.OUTPOST_LOG_RETENTION,
      maxBytes: raw.OUTPOST_LOG_MAX_BYTES,
      maxTranscriptBytes: raw.OUTPOST_TRANSCRIPT_MAX_BYTES,
    },
    mtaSts: {
      enabled: raw.OUTPOST_MTA_STS === 'on',
      port: raw.OUTPOST_MTA_STS_PORT,
      ...(raw.OUTPOST_MTA_STS_CA_FILE && { caFile: raw.OUTPOST_MTA_STS_CA_FILE }),
      fetchTimeoutMs: raw.OUTPOST_MTA_STS_TIMEOUT,
    },
  });
}
