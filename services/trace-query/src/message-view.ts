import type { RecipientStatus } from '@outpost/core';
import type { MessageJobData } from '@outpost/queue';
import type { AttemptRecord, DeliveryLog, OperatorAction, RecipientState } from '@outpost/store';
import type { JobState } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  domainHold,
  dueTime,
  findMessageJobs,
  type HoldMark,
  isPending,
  messageHold,
  type OutpostQueues,
} from './message-jobs.ts';

/** What the message looked like when accepted (never its body). */
export interface Envelope {
  sender: string;
  recipients: string[];
  arrivalTime?: number;
  expiresAt?: number;
  size?: number;
  headers?: MessageJobData['headers'];
  dsn?: MessageJobData['dsn'];
  client?: MessageJobData['client'];
}

export interface QueuedJob {
  id: string;
  domain: string;
  state: JobState | 'unknown';
  recipients: string[];
  attempts: number;
  /** For a job waiting for its next try (or a hold re-check). */
  nextAttemptAt?: number;
}

export interface MessageView {
  messageId: string;
  /** queued: still has work; held: an operator holds it; finished: every recipient is final. */
  state: 'queued' | 'held' | 'finished' | 'deleted';
  envelope?: Envelope;
  held?: HoldMark;
  recipients: RecipientState[];
  jobs: QueuedJob[];
  /** Every attempt, oldest first, with the transcripts of those that did not deliver. */
  attempts: AttemptRecord[];
  actions: OperatorAction[];
  traceId?: string;
  traceUrl?: string;
}

export interface ViewDeps {
  redis: Redis;
  log: DeliveryLog;
  queues: OutpostQueues;
  traceUiUrl?: string;
}

/**
 * Everything known about one message: the delivery log (envelope, attempts, statuses, actions) and,
 * while it is queued, its jobs, which also answer before the first attempt has been logged.
 */
export async function getMessageView(deps: ViewDeps, messageId: string): Promise<MessageView | undefined> {
  const [logged, jobs, held] = await Promise.all([
    deps.log.message(messageId),
    findMessageJobs(deps.queues, messageId),
    messageHold(deps.redis, messageId),
  ]);
  if (!logged && !jobs.message) return undefined;
  const meta = logged?.meta as (Partial<Envelope> & { traceparent?: string }) | undefined;
  const data = jobs.message?.data;
  const envelope = data ? envelopeOf(data) : meta ? envelopeFromMeta(meta) : undefined;

  const pending = jobs.deliveries.filter(isPending);
  const queued: QueuedJob[] = [];
  const heldDomains = new Set<string>();
  for (const { job, state } of pending) {
    if (await domainHold(deps.redis, job.data.domain)) heldDomains.add(job.data.domain);
    const due = state === 'delayed' ? await dueTime(deps.redis, deps.queues, String(job.id)) : undefined;
    queued.push({
      id: String(job.id),
      domain: job.data.domain,
      state,
      recipients: job.data.recipients.map((recipient) => recipient.address),
      attempts: job.data.attempts,
      ...(due !== undefined && { nextAttemptAt: due }),
    });
  }
  // The holds decide what a waiting recipient shows, even where the log lags behind them (a hold
  // lifted by `outpost destination resume`, an attempt that ended just after a hold was set).
  const waiting = new Map(
    queued.flatMap((job) =>
      job.recipients.map((address) => [address, held || heldDomains.has(job.domain)] as const),
    ),
  );
  const states = new Map((logged?.recipients ?? []).map((state) => [state.address, state]));
  const recipients = (envelope?.recipients ?? [...states.keys()]).map((address): RecipientState => {
    const state = states.get(address);
    const status: RecipientStatus | undefined = waiting.get(address)
      ? 'held'
      : state?.status === 'held' && waiting.has(address)
        ? state.attempts > 0
          ? 'deferred'
          : 'queued'
        : state?.status;
    return {
      ...(state ?? { address, attempts: 0, updatedAt: envelope?.arrivalTime ?? 0 }),
      status: status ?? 'queued',
    };
  });

  const attempts = logged?.attempts ?? [];
  const actions = logged?.actions ?? [];
  const traceId =
    traceIdOf(data?.traceparent ?? meta?.traceparent) ?? attempts.find((attempt) => attempt.traceId)?.traceId;
  return {
    messageId,
    state: jobs.message
      ? held
        ? 'held'
        : 'queued'
      : actions.at(-1)?.action === 'delete'
        ? 'deleted'
        : 'finished',
    ...(envelope && { envelope }),
    ...(held && { held }),
    recipients,
    jobs: queued,
    attempts,
    actions,
    ...(traceId && { traceId }),
    ...(traceId && deps.traceUiUrl && { traceUrl: `${deps.traceUiUrl}/trace/${traceId}` }),
  };
}

function envelopeOf(data: MessageJobData): Envelope {
  return {
    sender: data.sender,
    recipients: data.recipients.map((recipient) => recipient.address),
    arrivalTime: data.arrivalTime,
    expiresAt: data.expiresAt,
    size: data.size,
    headers: data.headers,
    dsn: data.dsn,
    client: data.client,
  };
}

function envelopeFromMeta(meta: Partial<Envelope>): Envelope {
  const { sender = '', recipients = [], arrivalTime, expiresAt, size, headers, dsn, client } = meta;
  return {
    sender,
    recipients,
    ...(arrivalTime !== undefined && { arrivalTime }),
    ...(expiresAt !== undefined && { expiresAt }),
    ...(size !== undefined && { size }),
    ...(headers !== undefined && { headers }),
    ...(dsn !== undefined && { dsn }),
    ...(client !== undefined && { client }),
  };
}

/** The trace id in a W3C traceparent ("00-<trace id>-<span id>-<flags>"). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  const id = traceparent?.split('-')[1];
  return id && /^[0-9a-f]{32}$/.test(id) && !/^0+$/.test(id) ? id : undefined;
}
