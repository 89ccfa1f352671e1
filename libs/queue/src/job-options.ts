import type { JobsOptions } from 'bullmq';

/**
 * Redis runs noeviction, so finished jobs must not pile up: completed ones go after an hour (enough
 * for an operator to look), failed ones after a week. The delivery log, not BullMQ, is the record.
 */
export const MESSAGE_JOB_OPTIONS = {
  // The message job holds the body: it goes as soon as the message is finished.
  removeOnComplete: true,
  removeOnFail: { age: 7 * 86_400 },
} as const satisfies JobsOptions;

export const BOUNCE_JOB_OPTIONS = {
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
} as const satisfies JobsOptions;

export const DELIVERY_JOB_OPTIONS = {
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400 },
} as const satisfies JobsOptions;
