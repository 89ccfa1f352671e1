import type { Message } from '@outpost/core';
import { type FlowJob, FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { prepareFlowTransactions, withKeysInFlowTransaction } from './flow-body-transaction.ts';
import { createGroupCommit } from './group-commit.ts';
import { DELIVERY_JOB_OPTIONS, MESSAGE_JOB_OPTIONS } from './job-options.ts';
import { deliveryJobId, messageBodyKey, QUEUE_NAMES, QUEUE_PREFIX } from './names.ts';
import { toDeliveryJobs, toMessageJobData, toStoredJobs } from './payloads.ts';
import type { Durability } from './redis-policy.ts';
import { StorageError, toStorageError } from './storage-error.ts';

/** Stores an accepted message durably; resolves only once Redis has it on disk (per `durability`). */
export interface MessageWriter {
  write(message: Message): Promise<void>;
  close(): Promise<void>;
}

/**
 * The chosen design: one BullMQ flow per message. The parent "message" job holds the envelope, the
 * body sits beside it under its own key (binary: no JSON escaping, no copies as strings), and the
 * children are the per-domain delivery jobs. All of them go in one MULTI, so a crash leaves the
 * whole message or nothing, and the parent runs when every child has finished: the place for
 * per-message finishing work (body removal). A message for a single domain, the common case, needs
 * no parent: it is one solo delivery job that carries the envelope and finishes the message itself
 * (payloads.ts, DeliveryJobDataV2). Concurrent writes are grouped (group commit), so under load one
 * MULTI and one fsync carry many messages.
 */
export function createFlowMessageWriter(
  redis: Redis,
  durability: Durability,
  onConnectionError: (error: Error) => void = () => {},
): MessageWriter {
  prepareFlowTransactions(redis);
  const flows = new FlowProducer({ connection: redis, prefix: QUEUE_PREFIX });
  // Connection trouble is reported per write; without a listener BullMQ prints it to stderr.
  flows.on('error', onConnectionError);
  // addBulk writes every flow of the batch in one MULTI: all of them or none.
  const commit = createGroupCommit<Message>(async (messages) => {
    const bodies = messages.map((message) => [messageBodyKey(message.id), message.body] as const);
    await withKeysInFlowTransaction(bodies, () => flows.addBulk(messages.map(toFlow)));
    await confirmDurable(redis, durability);
  });
  return {
    async write(message) {
      try {
        await commit(message);
      } catch (error) {
        throw toStorageError(error);
      }
    },
    close: () => flows.close(),
  };
}

/**
 * A message as what BullMQ writes: its solo delivery job when it has one domain, else the flow of
 * the parent message job and one delivery job per domain (payloads.ts, toStoredJobs).
 */
function toFlow(message: Message): FlowJob {
  const stored = toStoredJobs(message);
  if ('solo' in stored) {
    return {
      name: 'deliver',
      queueName: QUEUE_NAMES.delivery,
      data: stored.solo,
      opts: { jobId: deliveryJobId(message.id, 0), ...DELIVERY_JOB_OPTIONS },
    };
  }
  return {
    name: 'message',
    queueName: QUEUE_NAMES.message,
    data: stored.parent,
    opts: { jobId: message.id, ...MESSAGE_JOB_OPTIONS },
    children: stored.children.map((data, index) => ({
      name: 'deliver',
      queueName: QUEUE_NAMES.delivery,
      data,
      opts: { jobId: deliveryJobId(message.id, index), ...DELIVERY_JOB_OPTIONS },
    })),
  };
}

/**
 * The alternative, kept for the benchmark's comparison: the body under its own key first, then the
 * delivery jobs. A crash between the two leaves an orphan body that a sweeper would have to remove,
 * and the end-of-message work has no natural home. Not used by the services.
 */
export function createBodyFirstMessageWriter(
  redis: Redis,
  durability: Durability,
  onConnectionError: (error: Error) => void = () => {},
): MessageWriter {
  const delivery = new Queue(QUEUE_NAMES.delivery, { connection: redis, prefix: QUEUE_PREFIX });
  delivery.on('error', onConnectionError);
  return {
    async write(message) {
      try {
        await redis
          .multi()
          .set(messageBodyKey(message.id), message.body)
          .set(`${QUEUE_PREFIX}:envelope:${message.id}`, JSON.stringify(toMessageJobData(message)))
          .exec();
        await delivery.addBulk(
          toDeliveryJobs(message).map((data, index) => ({
            name: 'deliver',
            data,
            opts: { jobId: deliveryJobId(message.id, index), ...DELIVERY_JOB_OPTIONS },
          })),
        );
        await confirmDurable(redis, durability);
      } catch (error) {
        throw toStorageError(error);
      }
    },
    close: () => delivery.close(),
  };
}

/** With appendfsync everysec, WAITAOF 1 0 blocks until this connection's writes are fsynced locally. */
async function confirmDurable(redis: Redis, durability: Durability): Promise<void> {
  if (durability !== 'waitaof') return;
  const [local] = (await redis.call('WAITAOF', '1', '0', '5000')) as [number, number];
  if (local < 1) throw new StorageError('unavailable', 'WAITAOF timed out before the write reached disk');
}
