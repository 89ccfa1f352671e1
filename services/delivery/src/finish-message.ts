import { deleteMessageBody } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import type { DeliveryJobResult } from './process-delivery-job.ts';

/**
 * The end of a message, once none of its delivery jobs can run again: its body goes with their last
 * send marks (sent-marks.ts) in one command, and the log says what became of each domain. Run by a
 * flow's message job, or by a solo delivery job as its last step. Running it twice is harmless.
 */
export async function finishMessage(
  redis: Redis,
  logger: Logger,
  messageId: string,
  results: readonly DeliveryJobResult[],
): Promise<void> {
  const marks = results.flatMap((result) => (result?.sentMark ? [result.sentMark] : []));
  await deleteMessageBody(redis, messageId, marks);
  logger.info(
    { messageId, results: results.map(({ sentMark: _mark, ...result }) => result) },
    'message finished',
  );
}
