/**
 * A backlog: N messages queued while delivery is switched off (the delivery queue paused, as
 * `outpost delivery pause` does), written the way ingest writes them (prepareMessage + the flow
 * writer, durability fsync, 100 writes in flight so that its group commit batches them). Then:
 *   - Redis memory per queued message: (used_memory after - before) / N, and the same beyond the
 *     stored message itself (its `size`: the body with our Received: line);
 *   - time to drain: delivery resumed, until the receivers have every message.
 */
import {
  createFlowMessageWriter,
  createRedisConnection,
  deliveryJobId,
  deliveryJobKey,
  messageBodyKey,
  messageJobKey,
  parseRedisInfo,
  QUEUE_NAMES,
  QUEUE_PREFIX,
  waitForRedis,
} from '@outpost/queue';
import { Queue } from 'bullmq';
import { type LoadAverage, loadAverage } from './loadavg.ts';
import { startOutpost } from './outpost-stack.ts';
import type { PeerTools } from './peers/system-tools.ts';
import { SENDER } from './peers/zone.ts';
import { waitForQuietMachine } from './processes.ts';
import { benchQueuedMessage, writeInLanes } from './queued-message.ts';
import type { WorldDns } from './world.ts';
import { startWorldReceivers } from './world.ts';
import { worldMessage, worldRecipient } from './world-load.ts';

export interface BacklogRunResult {
  run: number;
  messages: number;
  size: number;
  workers: number;
  fillMs: number;
  fillPerSecond: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  /** Stored message bytes (MessageJobData body), on average. */
  storedBodyBytes: number;
  bytesPerMessage: number;
  bytesPerMessageBeyondBody: number;
  /** MEMORY USAGE of one message's keys, and of the shared structures. */
  sample: Record<string, number>;
  drainMs: number;
  drainPerSecond: number;
  delivered: number;
  workerRssPeakBytes: number[];
  loadavg: { start: LoadAverage; end: LoadAverage };
  busyBeforeCores: number;
  problems: string[];
}

export async function runBacklogOnce(settings: {
  run: number;
  messages: number;
  size: number;
  workers: number;
  tools?: PeerTools;
  dns: WorldDns;
  codeRoot: string;
  quietWaitMs?: number;
  notice?: (text: string) => void;
}): Promise<BacklogRunResult> {
  const busyBeforeCores = await waitForQuietMachine(0.3, settings.quietWaitMs ?? 10_000, (cores) =>
    settings.notice?.(`machine busy: ${cores.toFixed(2)} cores used by others`),
  );
  const start = loadAverage();
  const problems: string[] = [];
  const receivers = await startWorldReceivers(settings.tools ? 'smtp-sink' : 'node', {
    ...(settings.tools && { tools: settings.tools }),
    codeRoot: settings.codeRoot,
  });
  const stack = await startOutpost({
    codeRoot: settings.codeRoot,
    dnsServer: settings.dns.server,
    deliveryPort: receivers.port,
    workers: settings.workers,
    ingest: false,
  }).catch(async (error: unknown) => {
    await receivers.stop();
    throw error;
  });
  const producer = createRedisConnection(stack.redis.url, 'producer');
  const client = stack.redis.client();
  const deliveryQueue = new Queue(QUEUE_NAMES.delivery, { connection: client, prefix: QUEUE_PREFIX });
  deliveryQueue.on('error', () => {});
  try {
    await waitForRedis(producer);
    await deliveryQueue.pause();
    const writer = createFlowMessageWriter(producer, 'fsync');
    const memory = async () => Number(parseRedisInfo(await client.info('memory')).used_memory);
    const usedMemoryBefore = await memory();
    let storedBytes = 0;
    let firstId = '';
    const fillStart = Date.now();
    await writeInLanes(writer, settings.messages, 100, (seq) => {
      const message = benchQueuedMessage({
        sender: SENDER,
        recipient: worldRecipient(seq),
        raw: Buffer.from(worldMessage(seq, settings.size), 'latin1'),
        hostname: 'bench.outpost.test',
      });
      if (seq === 0) firstId = message.id;
      storedBytes += message.size;
      return message;
    });
    const fillMs = Date.now() - fillStart;
    await writer.close();
    const usedMemoryAfter = await memory();
    const usage = async (key: string) =>
      Number((await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    const sample: Record<string, number> = {
      // One-domain messages: a solo delivery job each, so the message job, its dependencies and
      // waiting-children read 0 here (kept in the table for flows of several domains).
      'message job (hash)': await usage(messageJobKey(firstId)),
      'its body (string)': await usage(messageBodyKey(firstId)),
      'its delivery job (hash)': await usage(deliveryJobKey(deliveryJobId(firstId, 0))),
      'its dependencies (set)': await usage(`${QUEUE_PREFIX}:${QUEUE_NAMES.message}:${firstId}:dependencies`),
      'message waiting-children (zset, all)': await usage(
        `${QUEUE_PREFIX}:${QUEUE_NAMES.message}:waiting-children`,
      ),
      'delivery paused list (all)': await usage(`${QUEUE_PREFIX}:${QUEUE_NAMES.delivery}:paused`),
      'message events (stream, all)': await usage(`${QUEUE_PREFIX}:${QUEUE_NAMES.message}:events`),
      'delivery events (stream, all)': await usage(`${QUEUE_PREFIX}:${QUEUE_NAMES.delivery}:events`),
    };
    const drainStart = Date.now();
    await deliveryQueue.resume();
    let seen = 0;
    let progressAt = Date.now();
    let lastAt: number | undefined;
    for (;;) {
      lastAt = await receivers.waitFor(settings.messages, 1_000);
      if (lastAt !== undefined) break;
      if (receivers.delivered() > seen) {
        seen = receivers.delivered();
        progressAt = Date.now();
      } else if (Date.now() - progressAt > 60_000) {
        problems.push(`only ${seen} of ${settings.messages} arrived (none for 60 s)`);
        break;
      }
    }
    const drainMs = (lastAt ?? Date.now()) - drainStart;
    const n = settings.messages;
    return {
      run: settings.run,
      messages: n,
      size: settings.size,
      workers: settings.workers,
      fillMs,
      fillPerSecond: n / (fillMs / 1000),
      usedMemoryBefore,
      usedMemoryAfter,
      storedBodyBytes: storedBytes / n,
      bytesPerMessage: (usedMemoryAfter - usedMemoryBefore) / n,
      bytesPerMessageBeyondBody: (usedMemoryAfter - usedMemoryBefore - storedBytes) / n,
      sample,
      drainMs,
      drainPerSecond: receivers.delivered() / (drainMs / 1000),
      delivered: receivers.delivered(),
      workerRssPeakBytes: stack.rssPeaks().workers,
      loadavg: { start, end: loadAverage() },
      busyBeforeCores: Math.round(busyBeforeCores * 100) / 100,
      problems,
    };
  } finally {
    await deliveryQueue.close().catch(() => {});
    await producer.quit().catch(() => producer.disconnect());
    await stack.stop();
    await receivers.stop();
  }
}
