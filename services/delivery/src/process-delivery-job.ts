import type { DeliveryEvent, FailureCategory, Message, Recipient, RecipientStatus } from '@outpost/core';
import {
  classify,
  MAX_RECEIVED_HEADERS,
  parseHeaderFields,
  planRetry,
  type RetryPolicy,
  tooManyHops,
} from '@outpost/core';
import type { DeliveryJobData, ReportedRecipient, SuppressionEntry } from '@outpost/queue';
import {
  fromMessageJobData,
  isKnownDeliveryJob,
  isSoloDeliveryJob,
  loadQueuedMessage,
  messageBodyKey,
  reportRecipients,
} from '@outpost/queue';
import type { DeliveryLog, MtaStsEntry } from '@outpost/store';
import { ATTR, contextFromTraceparent, contextWith, type Logger, type Tracer } from '@outpost/telemetry';
import { DelayedError, type Job, type Queue, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type AttemptDeps,
  attemptDelivery,
  type RecipientOutcome,
  type SessionRecord,
} from './attempt-delivery.ts';
import { recordAttempt } from './attempt-record.ts';
import { annotateAttemptSpan, recordSessionSpans, tracedResolver } from './attempt-spans.ts';
import type { DeliveryMetrics } from './delivery-metrics.ts';
import { finishedMessageKeys, finishMessage } from './finish-message.ts';
import { preflight } from './job-preflight.ts';
import { rememberDestination } from './operator-controls.ts';
import { diagnosticOf, logAttempt, toReportedRecipient } from './record-outcomes.ts';
import {
  clearSentMark,
  deliveryLockKey,
  JobTakenOverError,
  markSent,
  sentMarkKey,
  updateDeliveryDataIfOwner,
} from './sent-marks.ts';
import { emitWebhookEvents } from './webhook-events.ts';

const HELD_RECHECK_MS = 60_000;

/**
 * A job parked behind a pause comes back this many pause lengths after its end, unless a definite
 * answer at the destination brings it back sooner (parked-jobs.ts): a destination that stays down
 * then costs one job cycle per few pauses per queued job, not one per pause.
 */
const PARKED_PAUSES = 3;

/** Cluster-wide count of sessions lost after the final dot (RFC 1047 duplicates). */
export const POSSIBLE_DUPLICATES_KEY = '{outpost}:stats:possible-duplicates';

export interface DeliveryJobDeps {
  attempt: AttemptDeps;
  retryPolicy: RetryPolicy;
  bounceQueue: Queue;
  redis: Redis;
  logger: Logger;
  metrics?: DeliveryMetrics;
  tracer?: Tracer;
  /** Set when OUTPOST_WEBHOOK_URLS is: recipient outcomes are queued for the webhooks. */
  webhookQueue?: Queue;
  /** The delivery log; absent in unit tests. */
  log?: DeliveryLog;
  maxTranscriptBytes?: number;
  /** After this long in the queue the sender hears that the message is late (0 = never). */
  delayWarningMs: number;
  now?: () => number;
  random?: () => number;
}

/** What a finished delivery job returns; the message job collects these from its children. */
export interface DeliveryJobResult {
  domain: string;
  delivered: string[];
  bounced: string[];
  expired: string[];
  /**
   * The last attempt's send mark: the message job deletes it with the body, once no run of this
   * job can happen again (one write for the whole message instead of one per finished job).
   */
  sentMark?: string;
}

/**
 * Processes one delivery job: one attempt for the recipients still pending. Delivered and bounced
 * recipients are final; the rest are retried later by re-scheduling this same job with only them
 * (job.moveToDelayed + DelayedError: BullMQ's own retry counter would also count waits), or expire
 * when the next try would fall past the message's lifetime.
 */
export async function processDeliveryJob(
  job: Job<DeliveryJobData>,
  token: string | undefined,
  deps: DeliveryJobDeps,
): Promise<DeliveryJobResult> {
  const now = deps.now ?? Date.now;
  const data = job.data;
  if (!isKnownDeliveryJob(data)) {
    // A newer payload than this worker knows: leave it for a worker that does.
    throw new UnrecoverableError(`unknown delivery job version ${String((data as { v: unknown }).v)}`);
  }
  const context = { messageId: data.messageId, domain: data.domain, attempt: data.attempts + 1 };
  const jitter = () => Math.floor((deps.random ?? Math.random)() * 1_000);
  /** Not an attempt (nothing counted): back in the queue until `at`, never past the lifetime. */
  const putBack = async (at: number, reason: Wait, details: object = {}): Promise<never> => {
    deps.logger.debug({ ...context, reason, ...details }, reason === 'held' ? 'held by operator' : 'no slot');
    deps.metrics?.waits.inc({ reason });
    await job.moveToDelayed(Math.min(at, data.expiresAt), token);
    throw new DelayedError();
  };
  // A destination this process found paused: while Redis says it still is, wait for the end of the
  // pause without loading anything (paused-domains.ts). Past its lifetime a job goes on to expire.
  if (now() < data.expiresAt) {
    const pause = await confirmedPause(deps.attempt, data.domain, job.id, now);
    if (pause) {
      await putBack(parkedUntil(pause, now()) + jitter(), 'paused', {
        destination: pause.destination,
        known: true,
        ...(!pause.probe && { parked: true }),
      });
    }
  }
  const markKey = sentMarkKey(job.id ?? `${data.messageId}:${data.domain}`, data.attempts);
  // The suppression list and a solo job's body are read with the preflight, by one script (a held
  // job simply does not use them); a flow's child reads its parent alongside.
  const carriesMessage = isSoloDeliveryJob(data);
  const loadingParent = carriesMessage ? undefined : loadParentMessage(job, deps.redis);
  loadingParent?.catch(() => {}); // awaited below unless the job is held
  const before = await preflight(deps.redis, {
    domain: data.domain,
    messageId: data.messageId,
    sentMarkKey: markKey,
    addresses: data.recipients.map((recipient) => recipient.address),
    ...(carriesMessage && { bodyKey: messageBodyKey(data.messageId) }),
  });
  // A hold does not stop the lifetime clock: a held message past its lifetime expires as usual.
  // Held by an operator: look again in a minute (flush/resume is immediate).
  if (now() < data.expiresAt && before.held) await putBack(now() + HELD_RECHECK_MS, 'held');
  const message = carriesMessage
    ? before.body
      ? fromMessageJobData(data.message, before.body)
      : undefined
    : await loadingParent;
  if (!message) {
    // A solo job whose body is gone: an earlier run finished the message and was lost before
    // BullMQ heard of it, or an operator deleted the message. Either way there is nothing to do.
    deps.logger.info({ ...context }, 'message already finished: nothing left to deliver');
    return { domain: data.domain, delivered: [], bounced: [], expired: [] };
  }
  const { body } = message;
  const suppressed = before.suppressed;
  const toAttempt = data.recipients.filter((recipient) => !suppressed.has(recipient.address));
  const outcomes: RecipientOutcome[] = data.recipients
    .filter((recipient) => suppressed.has(recipient.address))
    .map((recipient) => suppressedOutcome(recipient, suppressed.get(recipient.address)!));

  // Recipients this run marked, and those another run of the same attempt marked after the
  // preflight read the mark (two runs overlap when a job lock lapsed during a Redis outage).
  const markedHere = new Set<string>();
  const markedElsewhere = new Set<string>();
  let takenOver = false;
  const sentMark = {
    key: markKey,
    ...(job.id && token && { lock: { key: deliveryLockKey(job.id), token } }),
  };
  const started = now();
  let sessions: SessionRecord[] = [];
  let mtaSts: MtaStsEntry | undefined;
  // The destination window's update, awaited with the attempt record (AttemptReport.windowUpdate).
  let windowUpdate: Promise<void> | undefined;
  if (toAttempt.length === 0) {
    // Everyone is suppressed: nothing to attempt.
  } else if (now() >= data.expiresAt) {
    outcomes.push(...toAttempt.map((recipient) => expiredOutcome(recipient, data.lastProblem)));
  } else if (tooManyHops(parseHeaderFields(body))) {
    outcomes.push(...toAttempt.map((recipient) => loopOutcome(recipient)));
  } else {
    deps.metrics?.sessionsInFlight.inc();
    const parent = contextFromTraceparent(message.traceparent);
    const started = deps.tracer?.startSpan(
      'delivery.attempt',
      {
        attributes: {
          [ATTR.messageId]: data.messageId,
          [ATTR.domain]: data.domain,
          [ATTR.attempt]: data.attempts + 1,
          [ATTR.recipientCount]: toAttempt.length,
          [ATTR.messagingSystem]: 'bullmq',
          [ATTR.messagingDestination]: 'delivery',
        },
      },
      parent,
    );
    // Without an exporter (or in a trace not sampled) the span records nothing: then neither do the
    // DNS and session spans under it, and building them would be work for nothing on every job.
    const span = started?.isRecording() ? started : undefined;
    const spanContext = span ? contextWith(span, parent) : parent;
    const attemptDeps =
      deps.tracer && span
        ? { ...deps.attempt, resolver: tracedResolver(deps.attempt.resolver, deps.tracer, spanContext) }
        : deps.attempt;
    const report = await attemptDelivery(
      {
        ...attemptInput(data, body),
        recipients: toAttempt,
        beforeFinalDot: async (recipients) => {
          const already = await markSent(deps.redis, sentMark, recipients).catch((error: unknown) => {
            if (error instanceof JobTakenOverError) takenOver = true;
            throw error;
          });
          for (const address of already) if (!markedHere.has(address)) markedElsewhere.add(address);
          for (const address of recipients) markedHere.add(address);
        },
      },
      attemptDeps,
    ).finally(() => deps.metrics?.sessionsInFlight.dec());
    if (span && deps.tracer) {
      recordSessionSpans(deps.tracer, spanContext, report.sessions);
      if (report.noSlot) span.setAttribute('outpost.no_slot', report.noSlot.reason);
      else annotateAttemptSpan(span, report);
      span.end();
    }
    if (report.destination)
      await rememberDestination(deps.redis, data.domain, report.destination).catch(() => {});
    if (report.noSlot) {
      // Waiting for a free connection slot is not an attempt: with jitter, so that waiting jobs do
      // not all come back at the same instant.
      if (report.noSlot.reason === 'paused' && report.destination) {
        deps.attempt.pauses?.note(data.domain, report.destination, report.noSlot.retryAt);
        const hold = await confirmedPause(deps.attempt, data.domain, job.id, now);
        if (hold)
          await putBack(parkedUntil(hold, now()) + jitter(), 'paused', {
            destination: hold.destination,
            ...(!hold.probe && { parked: true }),
          });
      }
      await putBack(Math.max(report.noSlot.retryAt, now()) + jitter(), report.noSlot.reason, {
        destination: report.destination,
      });
    }
    windowUpdate = report.windowUpdate;
    if (takenOver) {
      // The run that owns the job now records, re-schedules and reports; this one only stops
      // (BullMQ refuses its moves anyway: the lock holds the other run's token).
      deps.logger.warn({ ...context }, 'job taken over by another run: final dot withheld, nothing recorded');
      await windowUpdate;
      throw new JobTakenOverError();
    }
    logAttempt(deps.logger, context, report);
    outcomes.push(...report.outcomes);
    sessions = report.sessions;
    mtaSts = report.mtaSts;
  }

  // A rerun after a run that was lost past its final dot: what it delivers again may be a copy.
  const sentBefore = new Set([...before.sentBefore, ...markedElsewhere, ...(data.resent ?? [])]);
  if (before.sentBefore.size > 0 || markedElsewhere.size > 0) {
    deps.logger.warn(
      { ...context, recipients: [...before.sentBefore, ...markedElsewhere] },
      'rerun of an attempt lost after its final dot: deliveries to these recipients may be duplicates',
    );
  }
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.classification.verdict === 'delivered' && sentBefore.has(outcome.recipient.address)) {
      outcomes[index] = {
        ...outcome,
        classification: { ...outcome.classification, possibleDuplicate: true },
      };
    }
  }

  const at = now();
  const result: DeliveryJobResult = {
    domain: data.domain,
    delivered: [],
    bounced: [],
    expired: [],
    sentMark: markKey,
  };
  /**
   * Writes the attempt's record (with the message's metadata on its first attempt) and waits for
   * the destination window's update. `alsoDelete` are keys that end with this attempt, deleted in
   * the record's script: resolves true when they are gone, false when the caller must delete them
   * (no delivery log, or its write failed).
   */
  const record = async (
    deferredStatus: 'deferred' | 'expired',
    alsoDelete?: readonly string[],
  ): Promise<boolean> => {
    const failedStatus = new Map(failed.map((entry) => [entry.address, entry.status]));
    const statusOf = (address: string): RecipientStatus =>
      (failedStatus.get(address) as RecipientStatus | undefined) ??
      (result.delivered.includes(address) ? 'delivered' : deferredStatus);
    if (deps.webhookQueue) {
      await emitWebhookEvents(deps.webhookQueue, { ...context, at }, outcomes, statusOf).catch(
        (error: unknown) => deps.logger.warn({ err: error, ...context }, 'webhook events not queued'),
      );
    }
    if (!deps.log) {
      await windowUpdate;
      return false;
    }
    // The message's query metadata goes with its first record, not before the session.
    const recorded = recordAttempt(deps.log, {
      messageId: data.messageId,
      domain: data.domain,
      attempt: data.attempts + 1,
      started,
      finished: at,
      ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
      outcomes,
      sessions,
      ...(mtaSts && { mtaSts }),
      statusOf,
      maxTranscriptBytes: deps.maxTranscriptBytes ?? 32 * 1024,
      extras: {
        ...(data.attempts === 0 && { meta: messageMetaOf(message) }),
        ...(alsoDelete && { alsoDelete }),
      },
    }).then(
      () => true,
      (error: unknown) => {
        deps.logger.warn({ err: error, ...context }, 'delivery log write failed');
        return false;
      },
    );
    const [written] = await Promise.all([recorded, windowUpdate]);
    return written;
  };
  const failed: ReportedRecipient[] = [];
  const deliveredWithNotify: ReportedRecipient[] = [];
  const deferred: RecipientOutcome[] = [];
  for (const outcome of outcomes) {
    const { verdict, possibleDuplicate } = outcome.classification;
    deps.metrics?.attempts.inc({ verdict, category: outcome.classification.category });
    if (possibleDuplicate) {
      deps.metrics?.possibleDuplicates.inc();
      await deps.redis.incr(POSSIBLE_DUPLICATES_KEY).catch(() => 0);
    }
    if (verdict === 'delivered') {
      result.delivered.push(outcome.recipient.address);
      // RFC 3461 §4.1: NOTIFY=SUCCESS asks for a "delivered" DSN.
      if (outcome.recipient.notify?.includes('SUCCESS')) {
        deliveredWithNotify.push(toReportedRecipient(outcome, 'delivered', at));
      }
    } else if (verdict === 'bounced') {
      failed.push(toReportedRecipient(outcome, outcome.event.kind === 'expired' ? 'expired' : 'bounced', at));
    } else deferred.push(outcome);
  }
  await reportRecipients(deps.bounceQueue, message, 'delivered', deliveredWithNotify);

  if (deferred.length > 0) {
    const decision = planRetry({
      now: at,
      attempts: data.attempts + 1,
      expiresAt: data.expiresAt,
      random: (deps.random ?? Math.random)(),
      policy: deps.retryPolicy,
    });
    if (decision.kind === 'expire') {
      for (const outcome of deferred) failed.push(toReportedRecipient(outcome, 'expired', at));
    } else {
      await record('deferred');
      await reportRecipients(deps.bounceQueue, message, 'failed', failed);
      const warnDelay = shouldWarnOfDelay(data, at, deps.delayWarningMs);
      if (warnDelay) {
        await reportRecipients(
          deps.bounceQueue,
          message,
          'delayed',
          deferred.map((outcome) => toReportedRecipient(outcome, 'deferred', at, data.expiresAt)),
        );
      }
      const last = deferred[0]!;
      const diagnostic = diagnosticOf(last);
      const stillSuspect = deferred
        .map((outcome) => outcome.recipient.address)
        .filter((address) => sentBefore.has(address));
      const { resent: _previous, ...rest } = data;
      const next: DeliveryJobData = {
        ...rest,
        ...(stillSuspect.length > 0 && { resent: stillSuspect }),
        recipients: deferred.map((outcome) => outcome.recipient),
        attempts: data.attempts + 1,
        ...(warnDelay && { delayReported: true }),
        lastProblem: {
          status: last.classification.status,
          category: last.classification.category,
          ...(diagnostic !== undefined && { diagnostic }),
        },
      };
      // Only while this run still owns the job (sent-marks.ts); BullMQ's move checks that too.
      if (job.id && token) {
        await updateDeliveryDataIfOwner(deps.redis, { id: job.id, token }, next);
        job.data = next;
      } else await job.updateData(next);
      deps.logger.info(
        { ...context, deferred: deferred.length, retryAt: new Date(decision.at).toISOString() },
        'deferred',
      );
      await job.moveToDelayed(decision.at, token);
      // The next run is attempt N+1 with its own mark; this one has served (the last one goes with
      // the message: DeliveryJobResult.sentMark).
      clearSentMark(deps.redis, markKey);
      throw new DelayedError();
    }
  }
  for (const entry of failed)
    (entry.status === 'expired' ? result.expired : result.bounced).push(entry.address);
  // A solo job is the whole message: it finishes it (what a flow's message job does). A crash
  // after the body is gone and before BullMQ completes the job reruns it, and the rerun finds no
  // body: so the body goes only once nothing is left to report. With no failure to report, the
  // body and its send mark go in the attempt record's script (one write to Redis, one fsync), or
  // after it when the log could not take the record.
  const solo = isSoloDeliveryJob(data);
  if (solo && failed.length === 0) {
    const deleted = await record('expired', finishedMessageKeys(data.messageId, [result]));
    await finishMessage(deps.redis, deps.logger, data.messageId, [result], deleted);
  } else {
    await record('expired');
    await reportRecipients(deps.bounceQueue, message, 'failed', failed);
    if (solo) await finishMessage(deps.redis, deps.logger, data.messageId, [result]);
  }
  if (!solo) return result;
  // Its mark is gone with the body: nothing is left for a message job to delete.
  const { sentMark: _deleted, ...finished } = result;
  return finished;
}

/** The pause's probe comes back at its end; the others are parked (destination-limiter.ts). */
function parkedUntil(pause: { until: number; probe: boolean }, now: number): number {
  return pause.probe ? pause.until : pause.until + PARKED_PAUSES * Math.max(pause.until - now, 1_000);
}

/** Why a job went back to the queue without an attempt (outpost_delivery_waits_total's reason). */
type Wait = 'paused' | 'busy' | 'held';

/**
 * The pause this process noted for the domain's destination, once Redis confirms it still runs
 * (one script call), and whether this job is the pause's probe or is parked behind it (a job
 * without an id always probes); a pause Redis no longer has (ended, resumed, flushed) is forgotten.
 */
async function confirmedPause(
  deps: Pick<AttemptDeps, 'pauses' | 'limiter'>,
  domain: string,
  jobId: string | undefined,
  now: () => number,
): Promise<{ destination: string; until: number; probe: boolean } | undefined> {
  const { pauses, limiter } = deps;
  const known = pauses?.get(domain, now());
  if (!known || !pauses || !limiter) return undefined;
  const { pausedUntil: until, probe } =
    jobId === undefined
      ? { pausedUntil: await limiter.pausedUntil(known.destination).catch(() => 0), probe: true }
      : await limiter
          .holdBack(known.destination, jobId, now())
          .catch(() => ({ pausedUntil: 0, probe: true }));
  if (until <= now()) {
    pauses.forget(domain);
    return undefined;
  }
  pauses.note(domain, known.destination, until);
  return { destination: known.destination, until, probe };
}

/** What the delivery log shows about the message itself (first attempt of any of its domains). */
function messageMetaOf(message: Message): Record<string, unknown> {
  return {
    sender: message.sender,
    recipients: message.recipients.map((recipient) => recipient.address),
    headers: message.headers,
    arrivalTime: message.arrivalTime,
    expiresAt: message.expiresAt,
    size: message.size,
    client: message.client,
    dsn: message.dsn,
    ...(message.traceparent !== undefined && { traceparent: message.traceparent }),
    // Signed or not, and why not: the record says so (RFC 6376).
    ...(message.dkim && { dkim: message.dkim }),
  };
}

/** Once per job, when the message has waited longer than the delay-warning time (0 = never). */
function shouldWarnOfDelay(data: DeliveryJobData, now: number, delayWarningMs: number): boolean {
  return delayWarningMs > 0 && !data.delayReported && now - data.arrivalTime >= delayWarningMs;
}

function attemptInput(data: DeliveryJobData, body: Buffer) {
  return { domain: data.domain, sender: data.sender, dsn: data.dsn, recipients: data.recipients, body };
}

/** The message of a flow's delivery job: its parent's (a solo job carries it, see preflight). */
async function loadParentMessage(job: Job<DeliveryJobData>, redis: Redis): Promise<Message> {
  const data = job.data;
  const parentId = job.parent?.id ?? data.messageId;
  const message = await loadQueuedMessage(redis, parentId);
  if (!message) throw new UnrecoverableError(`message ${parentId} not found for delivery job ${job.id}`);
  return message;
}

function expiredOutcome(recipient: Recipient, last: DeliveryJobData['lastProblem']): RecipientOutcome {
  const event = { kind: 'expired' as const, detail: last?.diagnostic ?? 'queue lifetime exceeded' };
  return {
    recipient,
    event,
    classification: {
      verdict: 'bounced',
      status: '4.4.7',
      category: (last?.category ?? 'unknown') as FailureCategory,
      next: 'bounce',
      rule: 'queue-lifetime-expired',
    },
  };
}

function loopOutcome(recipient: Recipient): RecipientOutcome {
  const event = { kind: 'loop' as const, detail: `more than ${MAX_RECEIVED_HEADERS} Received: headers` };
  return {
    recipient,
    event,
    classification: {
      verdict: 'bounced',
      status: '5.4.6',
      category: 'mail_loop',
      next: 'bounce',
      rule: 'mail-loop',
    },
  };
}

/** A suppressed address is bounced at once, not attempted, and the DSN says why. */
function suppressedOutcome(recipient: Recipient, entry: SuppressionEntry): RecipientOutcome {
  const event: DeliveryEvent = {
    kind: 'suppressed',
    status: entry.enhancedStatus,
    category: entry.category as FailureCategory,
    detail:
      entry.source === 'operator'
        ? `suppressed: ${entry.diagnostic ?? 'by an operator'}`
        : `suppressed: an earlier message to this address bounced (${entry.diagnostic ?? entry.enhancedStatus})`,
  };
  return { recipient, event, classification: classify(event), suppressed: true };
}
