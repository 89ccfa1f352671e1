import type { DsnAction } from '@outpost/core';
import { BOUNCE_JOB_OPTIONS } from '@outpost/queue';
import type { Queue } from 'bullmq';

/** The bounce queue carries delivery's reports (named by event) and our own send jobs. */
export const SEND_JOB_NAME = 'send-dsn';

/** Sends the DSN of one collection window of (message, event). */
export interface SendDsnJobData {
  v: 1;
  messageId: string;
  event: DsnAction;
  window: string;
}

/** Retries of a send job: doubling from 1 s up to 5 min, for about 8 hours in all. */
export const SEND_ATTEMPTS = 100;
export const SEND_BACKOFF = 'dsn-send';

export function sendRetryDelayMs(attemptsMade: number): number {
  return Math.min(1_000 * 2 ** Math.max(0, attemptsMade - 1), 5 * 60_000);
}

/** One job per window: its id makes adding it again (every report of the window does) a no-op. */
export function sendJobId(data: Omit<SendDsnJobData, 'v'>): string {
  return `dsn.${data.messageId}.${data.event}.${data.window}`;
}

export async function scheduleSend(queue: Queue, data: SendDsnJobData, windowMs: number): Promise<void> {
  await queue.add(SEND_JOB_NAME, data, {
    ...BOUNCE_JOB_OPTIONS,
    jobId: sendJobId(data),
    delay: windowMs,
    attempts: SEND_ATTEMPTS,
    backoff: { type: SEND_BACKOFF },
  });
}
