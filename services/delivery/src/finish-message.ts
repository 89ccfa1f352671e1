import { deleteMessageBody, messageBodyKey } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import type { DeliveryJobResult } from './process-delivery-job.ts';

/** The send marks of a message's jobs that go with its body (sent-marks.ts). */
function lastSentMarks(results: readonly DeliveryJobResult[]): string[] {
  return results.flatMap((result) => (result?.sentMark ? [result.sentMark] : []));
}

/**
 * The keys that go when a message is finished: its body and its jobs' last send marks. A solo job
 * deletes them in the script that writes its last attempt record (process-delivery-job.ts).
 */
export function finishedMessageKeys(messageId: string, results: readonly DeliveryJobResult[]): string[] {
  return [messageBodyKey(messageId), ...lastSentMarks(results)];
}

/**
 * The end of a message, once none of its delivery jobs can run again: its body goes with their last
 * send marks in one command (unless `keysDeleted`: they went with the attempt record), and the log
 * says what became of each domain. Run by a flow's message job, or by a solo delivery job as its
 * last step. Running it twice is harmless.
 */
export async function finishMessage(
  redis: Redis,
  logger: Logger,
  messageId: string,
  results: readonly DeliveryJobResult[],
  keysDeleted = false,
): Promise<void> {
  if (!keysDeleted) await deleteMessageBody(redis, messageId, lastSentMarks(results));
  logger.info(
    { messageId, results: results.map(({ sentMark: _mark, ...result }) => result) },
    'message finished',
  );
}
