import type { WebhookConfig } from '@outpost/config';
import type { WebhookEvent } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { postEvent, redactUrl } from './post-event.ts';

/** Kept in the job's progress, which survives re-scheduling: URLs already served, tries so far. */
export interface WebhookProgress {
  sent: string[];
  tries: number;
}

export interface WebhookJobDeps {
  config: Pick<WebhookConfig, 'urls' | 'secret' | 'timeoutMs' | 'retry'>;
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

/** The wait before try `tries + 1`: doubling from the first delay up to the maximum, ±10% jitter. */
export function retryDelayMs(tries: number, retry: WebhookConfig['retry'], random = Math.random): number {
  const base = Math.min(retry.firstDelayMs * 2 ** Math.max(tries - 1, 0), retry.maxDelayMs);
  return Math.round(base * (0.9 + random() * 0.2));
}

/**
 * Sends one event to every URL not yet served. A failed URL is retried later by re-scheduling this
 * job (our own counter, so it works whatever options the producer gave the job); a URL that took
 * the event is not sent it again. After the last try the job fails and stays for inspection.
 */
export async function processWebhookJob(
  job: Job<WebhookEvent>,
  token: string | undefined,
  deps: WebhookJobDeps,
): Promise<{ sent: number }> {
  const now = deps.now ?? Date.now;
  if (job.data.v !== 1)
    throw new UnrecoverableError(`unknown webhook event version ${String((job.data as { v: unknown }).v)}`);
  const progress = readProgress(job.progress);
  const body = JSON.stringify(job.data);
  const pending = deps.config.urls.filter((url) => !progress.sent.includes(url));
  const results = await Promise.all(
    pending.map((url) =>
      postEvent(url, body, {
        secret: deps.config.secret,
        timeoutMs: deps.config.timeoutMs,
        eventId: String(job.id),
        event: job.data.event,
        now,
      }).then(
        () => ({ url, error: undefined }),
        (error: unknown) => ({ url, error: (error as Error).message }),
      ),
    ),
  );
  const sent = [...progress.sent, ...results.filter((result) => !result.error).map((result) => result.url)];
  const failures = results.filter((result) => result.error !== undefined);
  if (failures.length === 0) return { sent: sent.length };

  const tries = progress.tries + 1;
  await job.updateProgress({ sent, tries } satisfies WebhookProgress);
  const context = { jobId: job.id, event: job.data.event, messageId: job.data.messageId, tries };
  const errors = failures.map((failure) => failure.error).join('; ');
  if (tries >= deps.config.retry.maxAttempts) {
    deps.logger.error({ ...context, errors }, 'webhook event given up');
    throw new UnrecoverableError(`gave up after ${tries} tries: ${errors}`);
  }
  const delay = retryDelayMs(tries, deps.config.retry, deps.random);
  deps.logger.warn(
    { ...context, errors, urls: failures.map((failure) => redactUrl(failure.url)), retryInMs: delay },
    'webhook event not taken; retrying later',
  );
  await job.moveToDelayed(now() + delay, token);
  throw new DelayedError();
}

function readProgress(progress: unknown): WebhookProgress {
  const value = progress as Partial<WebhookProgress> | undefined;
  return {
    sent: Array.isArray(value?.sent) ? value.sent.filter((url) => typeof url === 'string') : [],
    tries: typeof value?.tries === 'number' ? value.tries : 0,
  };
}
