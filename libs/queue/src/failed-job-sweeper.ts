import type { Job, Queue } from 'bullmq';

/** The few logger methods the sweeper uses (pino's Logger fits). */
export interface SweepLogger {
  warn(fields: object, message: string): void;
}

/**
 * BullMQ can move a job to `failed` with no worker to hear of it (stalled more than
 * maxStalledCount times, perhaps while every worker was down). Mail must never stay there: the
 * sweeper puts such jobs back in the queue, where the processor retries, bounces or expires them.
 */
export function startFailedJobSweeper(
  queues: readonly Queue[],
  intervalMs: number,
  logger: SweepLogger,
  /** Which failed jobs to put back; the rest stay for an operator. Default: all. */
  shouldRecover: (job: Job) => boolean = () => true,
) {
  let running = false;
  const sweep = async () => {
    if (running) return 0;
    running = true;
    let recovered = 0;
    try {
      for (const queue of queues) {
        for (const job of await queue.getFailed(0, 99)) {
          if (!shouldRecover(job)) continue;
          logger.warn(
            { queue: queue.name, jobId: job.id, reason: job.failedReason },
            'recovering failed job',
          );
          await job.retry('failed').then(
            () => recovered++,
            (error: unknown) => logger.warn({ err: error, jobId: job.id }, 'could not recover failed job'),
          );
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 'failed-job sweep did not complete');
    } finally {
      running = false;
    }
    return recovered;
  };
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
