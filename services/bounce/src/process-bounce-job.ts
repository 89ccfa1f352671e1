import type { BounceJobData } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import { type CollectDeps, collectReport } from './collect-report.ts';
import { type SendDeps, type SendOutcome, sendCollectedDsn } from './send-collected-dsn.ts';
import { SEND_JOB_NAME, type SendDsnJobData, sendRetryDelayMs } from './send-job.ts';

export interface BounceJobDeps {
  collect: CollectDeps;
  send: SendDeps;
  logger: Logger;
  now: () => number;
}

/** A report that cannot be collected for a day (Redis trouble) is left in `failed` for an operator. */
const REPORT_RETRY_MAX_AGE_MS = 86_400_000;

const REPORT_EVENTS = new Set(['failed', 'delayed', 'delivered']);

/**
 * The bounce queue holds two kinds of job: delivery's reports (named after their event), which are
 * collected, and our own send jobs, which turn a collection window into one DSN.
 */
export async function processBounceJob(
  job: Job,
  token: string | undefined,
  deps: BounceJobDeps,
): Promise<{ collected: true } | { outcome: SendOutcome }> {
  if (job.name === SEND_JOB_NAME) {
    const data = job.data as SendDsnJobData;
    // A newer payload than this worker knows: leave it for a worker that does.
    if (data.v !== 1) throw new UnrecoverableError(`unknown send-dsn job version ${String(data.v)}`);
    // Failures are retried by BullMQ (the job is added with attempts and our backoff).
    return { outcome: await sendCollectedDsn(data, deps.send) };
  }
  const report = job.data as BounceJobData;
  if (!REPORT_EVENTS.has(job.name) || report.v !== 1) {
    throw new UnrecoverableError(`unknown bounce job "${job.name}" version ${String(report.v)}`);
  }
  try {
    await collectReport(job.id ?? `${report.messageId}:${job.timestamp}`, report, deps.collect);
    return { collected: true };
  } catch (error) {
    // Delivery adds reports without retries: a failed collection re-schedules itself, or the
    // sender would never hear of the failure.
    const now = deps.now();
    if (now - job.timestamp > REPORT_RETRY_MAX_AGE_MS) throw error;
    const delay = sendRetryDelayMs(job.attemptsStarted);
    deps.logger.warn(
      { err: error, jobId: job.id, messageId: report.messageId, retryInMs: delay },
      'report not collected',
    );
    await job.moveToDelayed(now + delay, token);
    throw new DelayedError();
  }
}
