import { type Message, newMessageId, prepareMessage } from '@outpost/core';
import type { MessageWriter } from '@outpost/queue';

/**
 * A one-recipient message as ingest queues it after an SMTP session from 127.0.0.1 (no TLS, a
 * day's lifetime): what the delivery and backlog benchmarks write straight into the queue.
 */
export function benchQueuedMessage(input: {
  sender: string;
  recipient: string;
  raw: Buffer;
  hostname: string;
}): Message {
  const now = Date.now();
  return prepareMessage({
    id: newMessageId(now),
    sender: input.sender,
    recipients: [{ address: input.recipient }],
    dsn: {},
    raw: input.raw,
    client: { protocol: 'smtp', address: '127.0.0.1', tls: false },
    hostname: input.hostname,
    now,
    lifetimeMs: 86_400_000,
  });
}

/**
 * Writes `count` messages (`messageOf(seq)`, seq 0..count-1) with `lanes` writes in flight, as that
 * many SMTP sessions would hand them to ingest's writer (its group commit batches them).
 */
export async function writeInLanes(
  writer: MessageWriter,
  count: number,
  lanes: number,
  messageOf: (seq: number) => Message,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await writer.write(messageOf(next++));
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}
