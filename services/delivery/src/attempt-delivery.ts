import type { SecureContext } from 'node:tls';
import type { Classification, DeliveryEvent, Recipient } from '@outpost/core';
import { classify } from '@outpost/core';
import type {
  ReplyTimeouts,
  SmtpChannel,
  SmtpTimeouts,
  SmtpTransactionResult,
  TranscriptLine,
} from '@outpost/smtp-client';
import { runSmtpTransaction } from '@outpost/smtp-client';
import type { MtaStsEntry, SessionTlsEntry } from '@outpost/store';
import type { ConnectionPool, PooledConnection } from './connection-pool.ts';
import {
  type AttemptTrouble,
  type DestinationLimiter,
  destinationKeyOf,
  type Lease,
} from './destination-limiter.ts';
import {
  addressesOfHost,
  type Candidate,
  type RouteDeps,
  type RoutedHost,
  routeDomain,
} from './destination-route.ts';
import { AttemptPolicy, type MtaStsDeps } from './mta-sts/attempt-policy.ts';
import type { PausedDomains } from './paused-domains.ts';

export interface AttemptInput {
  domain: string;
  sender: string;
  dsn: { ret?: 'FULL' | 'HDRS'; envid?: string };
  recipients: readonly Recipient[];
  body: Buffer;
  /** Runs before each transaction's final dot (the dot waits; a rejection withholds it). */
  beforeFinalDot?: (recipients: readonly string[]) => Promise<void>;
}

export interface AttemptDeps extends RouteDeps {
  heloName: string;
  timeouts: SmtpTimeouts;
  replyTimeouts?: ReplyTimeouts;
  maxAddresses: number;
  maxSessions: number;
  maxRecipientsPerTransaction: number;
  sourceAddress?: () => string | undefined;
  tlsMemory: {
    isBroken(host: string): Promise<boolean>;
    markBroken(host: string): Promise<void>;
  };
  /** Idle connections kept for the next job to the same destination; absent = none kept. */
  pool?: ConnectionPool;
  /** Cluster-wide connection limits; absent = unlimited (unit tests). */
  limiter?: DestinationLimiter;
  /** How long a destination that failed as a whole (or deferred everything) is paused. */
  pauseMs: number;
  /** Told when this attempt paused its destination (for the log). */
  onPause?: (pause: DestinationPause) => void;
  /** The pauses this process learnt of: a paused destination gets no kept connection. */
  pauses?: PausedDomains;
  /** Brings back the jobs parked behind the destination's pauses (parked-jobs.ts). */
  releaseParked?: (destination: string) => Promise<unknown>;
  /** Test seam for the SMTP client; production uses nodemailer through libs/smtp-client. */
  transact?: typeof runSmtpTransaction;
  /** MTA-STS policies (RFC 8461); absent = not honoured (OUTPOST_MTA_STS=off, unit tests). */
  mtaSts?: MtaStsDeps;
  /** Trust store for certificates (extra CAs); Node's default CAs when absent. */
  secureContext?: SecureContext;
}

export interface RecipientOutcome {
  recipient: Recipient;
  event: DeliveryEvent;
  classification: Classification & { rule: string };
  remoteHost?: string;
  remoteAddress?: string;
  /** Bounced without an attempt: the address is on the suppression list. */
  suppressed?: boolean;
}

/** One SMTP session of the attempt, for the attempt record. */
export interface SessionRecord {
  startedAt: number;
  host: string;
  address: string;
  port: number;
  greeted: boolean;
  tls: boolean;
  /** none / opportunistic / mta-sts, the protocol, whether the certificate verified, the policy. */
  tlsOutcome: SessionTlsEntry;
  durationMs: number;
  transcript: TranscriptLine[];
}

export interface DestinationPause {
  destination: string;
  until: number;
  /** unreachable: no session got a greeting; deferred-all: the streak of all-4xx attempts. */
  cause: 'unreachable' | 'deferred-all';
  lastProblem: string;
}

export interface AttemptReport {
  outcomes: RecipientOutcome[];
  sessions: SessionRecord[];
  /** Set when no connection slot was free: nothing was tried, and this is no attempt. */
  noSlot?: { retryAt: number; reason: 'busy' | 'paused' };
  destination?: string;
  /** The receiver's MTA-STS policy, when one (enforce or testing) applied. */
  mtaSts?: MtaStsEntry;
  /**
   * The destination window's update after the sessions (adaptDestination), already sent. It never
   * rejects. The caller awaits it with its own next write, so both share one turn of Redis (one
   * fsync) instead of waiting for each in turn.
   */
  windowUpdate?: Promise<void>;
}

/**
 * One delivery attempt for one domain's recipients: route (transport map or MX), then every address
 * of every host in order (RFC 5321 §5.1; the FAQ's round-robin advice), until every recipient has a
 * definite answer, `maxSessions` sessions took place, or `maxAddresses` were tried. Recipients left
 * without a definite answer carry the last temporary event they met.
 */
export async function attemptDelivery(input: AttemptInput, deps: AttemptDeps): Promise<AttemptReport> {
  const route = await routeDomain(input.domain, deps);
  const attempt = new AttemptState(input);
  if (route.kind === 'failed') return attempt.everyoneGets(route.event);
  const policy = await AttemptPolicy.lookUp(input.domain, route.hosts, deps.mtaSts);
  const withPolicy = (report: AttemptReport): AttemptReport => {
    const mtaSts = policy.entry();
    return mtaSts ? { ...report, mtaSts } : report;
  };
  const refusal = policy.nothingListed();
  if (refusal) return withPolicy(attempt.everyoneGets(refusal));
  // Enforce: only the hosts the policy lists (RFC 8461 §5); the destination (connection slots,
  // pauses) stays the whole MX set, which other domains on the same hosts share.
  const hosts = route.hosts.filter((host) => policy.plan.hosts.includes(host.host));

  const destination = destinationKeyOf(route.hosts);
  // A kept connection would carry mail past a pause (it holds its slot already): closed instead,
  // and the limiter answers.
  if (deps.pauses?.isPaused(destination, Date.now())) await deps.pool?.closeDestination(destination);
  // A connection kept from an earlier job to this destination comes with its slot.
  const pooled = deps.pool?.take(destination);
  let lease: Lease | undefined = pooled?.lease;
  if (!pooled && deps.limiter) {
    const slot = await deps.limiter.acquire(destination);
    if (!slot.granted) {
      return {
        outcomes: [],
        sessions: [],
        noSlot: { retryAt: slot.retryAt, reason: slot.reason },
        destination,
      };
    }
    lease = slot.lease;
  }
  const connection = new HeldConnection(pooled);
  let routeProblem: DeliveryEvent | undefined;
  try {
    routeProblem = await tryEveryAddress(hosts, input, deps, attempt, connection, policy);
  } finally {
    const kept = connection.current;
    if (kept && deps.pool) deps.pool.park(destination, { ...kept, ...(lease && { lease }) });
    else {
      kept?.channel.close();
      await lease?.release();
    }
  }
  // Nobody was even tried: the route's own problem is every recipient's outcome.
  if (attempt.sessions.length === 0) {
    return withPolicy(
      attempt.everyoneGets(
        routeProblem ?? { kind: 'dns', failure: 'no-address', detail: `no address for ${input.domain}` },
      ),
    );
  }
  // Every recipient leaves with an outcome: one without would be dropped from the job's retry.
  attempt.settleUnanswered({
    kind: 'network',
    stage: 'connect',
    failure: 'timeout',
    detail: 'not tried: the sessions of this attempt ended before its turn',
  });
  const report = attempt.report();
  const windowUpdate = deps.limiter
    ? adaptDestination(deps, deps.limiter, input.domain, destination, report).catch(() => {})
    : undefined;
  return withPolicy({ ...report, destination, ...(windowUpdate && { windowUpdate }) });
}

/** The recipients' outcomes so far and the sessions held, for one attempt. */
class AttemptState {
  readonly sessions: SessionRecord[] = [];
  readonly #outcomes = new Map<string, RecipientOutcome>();
  readonly #input: AttemptInput;
  #lastTemporary: DeliveryEvent | undefined;

  constructor(input: AttemptInput) {
    this.#input = input;
  }

  settle(recipient: Recipient, event: DeliveryEvent, candidate?: Candidate): void {
    const classification = classify(event);
    if (classification.verdict === 'deferred') this.#lastTemporary = event;
    this.#outcomes.set(recipient.address, {
      recipient,
      event,
      classification,
      ...(candidate && { remoteHost: candidate.host, remoteAddress: candidate.address }),
    });
  }

  /** Recipients without a definite answer yet. */
  pending(): Recipient[] {
    return this.#input.recipients.filter((recipient) => {
      const next = this.#outcomes.get(recipient.address)?.classification.next;
      return next === undefined || next === 'next-address' || next === 'defer';
    });
  }

  /**
   * Recipients no session answered get the last temporary event this attempt met (else
   * `fallback`): never a permanent one, which was another recipient's answer.
   */
  settleUnanswered(fallback: DeliveryEvent): void {
    const event = this.#lastTemporary ?? fallback;
    for (const recipient of this.#input.recipients) {
      if (!this.#outcomes.has(recipient.address)) this.settle(recipient, event);
    }
  }

  everyoneGets(event: DeliveryEvent): AttemptReport {
    for (const recipient of this.#input.recipients) this.settle(recipient, event);
    return this.report();
  }

  report(): AttemptReport {
    return { outcomes: [...this.#outcomes.values()], sessions: this.sessions };
  }
}

/** Returns the routing problem met on the way (no address, private address ...), if any. */
async function tryEveryAddress(
  hosts: RoutedHost[],
  input: AttemptInput,
  deps: AttemptDeps,
  attempt: AttemptState,
  connection: HeldConnection,
  policy: AttemptPolicy,
): Promise<DeliveryEvent | undefined> {
  const transact = deps.transact ?? runSmtpTransaction;
  let addressesTried = 0;
  const tried = new Set<string>();
  let routeProblem: DeliveryEvent | undefined;
  // The kept connection's host and address go first: it is open already.
  const pooled = connection.current;
  if (pooled) {
    const target = hosts.find((host) => host.host === pooled.host && host.port === pooled.port);
    if (target) hosts = [{ ...target, pinnedAddress: pooled.address }, ...hosts];
  }
  for (const target of hosts) {
    const { addresses, rejected } = target.pinnedAddress
      ? { addresses: [target.pinnedAddress], rejected: undefined }
      : await addressesOfHost(target.host, deps, target.configured);
    if (rejected) routeProblem = mergeRouteProblem(routeProblem, rejected);
    for (const address of addresses) {
      if (tried.has(`${address}:${target.port}`)) continue;
      const completedSessions = attempt.sessions.filter((session) => session.greeted).length;
      if (addressesTried >= deps.maxAddresses || completedSessions >= deps.maxSessions) return routeProblem;
      const waiting = attempt.pending();
      if (waiting.length === 0) return routeProblem;
      addressesTried++;
      tried.add(`${address}:${target.port}`);
      const candidate: Candidate = { ...target, address };
      // Under an enforced policy the TLS-broken memory is not consulted: no plaintext fallback.
      const tls = policy.tlsModeFor(!policy.enforced && (await deps.tlsMemory.isBroken(target.host)));
      const sourceAddress = deps.sourceAddress?.();
      const batches = chunks(waiting, deps.maxRecipientsPerTransaction);
      for (const [index, batch] of batches.entries()) {
        const sessionStarted = Date.now();
        const reuse = connection.takeFor(candidate, tls === 'verified');
        const outcome = await transact({
          address,
          port: target.port,
          mxHost: target.host,
          heloName: deps.heloName,
          ...(sourceAddress !== undefined && { sourceAddress }),
          tls,
          ...(deps.secureContext && { secureContext: deps.secureContext }),
          lmtp: target.lmtp,
          ...(target.auth && { auth: target.auth }),
          timeouts: deps.timeouts,
          ...(deps.replyTimeouts && { replyTimeouts: deps.replyTimeouts }),
          sender: input.sender,
          recipients: batch.map((recipient) => recipient.address),
          ...(input.dsn && { dsn: input.dsn }),
          body: input.body,
          ...(input.beforeFinalDot && { beforeFinalDot: input.beforeFinalDot }),
          ...(reuse && { reuse }),
          keepOpen: deps.pool !== undefined,
        });
        const result = policy.judgeSession(target.host, outcome);
        connection.keep(candidate, result.channel);
        attempt.sessions.push(sessionRecord(candidate, result, sessionStarted, policy));
        for (const { address: recipientAddress, event } of result.recipients) {
          const recipient = batch.find((entry) => entry.address === recipientAddress);
          if (recipient) attempt.settle(recipient, event, candidate);
        }
        await learnFromSession(result, candidate, deps, policy.enforced);
        // A server that failed at the connection level will not do better for the next batch: the
        // batches not sent meet the same event, so that none leaves the attempt without an outcome.
        if (!result.greeted) {
          const event = result.recipients[0]?.event;
          if (event)
            for (const recipient of batches.slice(index + 1).flat())
              attempt.settle(recipient, event, candidate);
          break;
        }
      }
    }
  }
  return routeProblem;
}

/**
 * Feeds the destination's adaptive window: an attempt in which no session got a usable greeting
 * (refused, timed out, 421) halves it and pauses the destination, so its other jobs wait instead of
 * each hitting a dead or overloaded server; an attempt that got through widens it again. One that
 * got through but was deferred at every recipient counts towards the destination's backoff
 * (destination-limiter.ts), which pauses it the same way.
 */
async function adaptDestination(
  deps: AttemptDeps,
  limiter: DestinationLimiter,
  domain: string,
  destination: string,
  report: Pick<AttemptReport, 'outcomes' | 'sessions'>,
): Promise<void> {
  const { sessions } = report;
  const troubled = sessions.filter((session) => !session.greeted);
  const reachable = troubled.length < sessions.length;
  const heldMs = sessions.reduce((total, session) => total + session.durationMs, 0);
  const definite = report.outcomes.some((entry) => entry.classification.verdict !== 'deferred');
  const outcome: AttemptTrouble = !reachable
    ? 'trouble'
    : deferredEverything(report.outcomes)
      ? 'deferred-all'
      : definite
        ? 'ok'
        : 'reachable';
  const lastProblem =
    outcome === 'deferred-all'
      ? replyLine(report.outcomes.at(-1)!.event)
      : (troubled.at(-1)?.transcript.at(-1)?.text ?? 'connection failed');
  const pauseUntil = Date.now() + deps.pauseMs;
  const adapted = await limiter
    .adapt(destination, outcome, lastProblem, heldMs, pauseUntil)
    .catch(() => ({ pausedUntil: undefined, started: false, releaseParked: false }));
  // A definite answer found jobs parked behind a pause: they come back now, not at their own time
  // (not awaited: the attempt's record need not wait for them).
  if (adapted.releaseParked) deps.releaseParked?.(destination).catch(() => {});
  const pause: DestinationPause | undefined =
    outcome === 'trouble'
      ? { destination, until: pauseUntil, cause: 'unreachable', lastProblem }
      : adapted.pausedUntil !== undefined
        ? { destination, until: adapted.pausedUntil, cause: 'deferred-all', lastProblem }
        : undefined;
  if (!pause) return;
  if (pause.cause === 'unreachable')
    await limiter.pause(destination, pauseUntil, lastProblem).catch(() => {});
  deps.pauses?.note(domain, destination, pause.until);
  // The connection this attempt just parked, and any other kept one, must not outlive the pause.
  await deps.pool?.closeDestination(destination);
  // Said once per backoff (by the attempt that began it), not by every session still in flight.
  if (pause.cause === 'unreachable' || adapted.started) deps.onPause?.(pause);
}

/**
 * The server answered, and what it answered every recipient was "later" (a 4xx reply, or a 5xx that
 * careful MTAs read as temporary): nothing delivered, nothing refused for good, no network trouble.
 * A reply about one mailbox or address (RFC 3463 X.1.x addressing, X.2.x mailbox status: "mailbox
 * full", "greylisted") says nothing about the destination as a whole, so it does not count.
 */
export function deferredEverything(outcomes: readonly RecipientOutcome[]): boolean {
  return (
    outcomes.length > 0 &&
    outcomes.every(
      (outcome) =>
        outcome.classification.verdict === 'deferred' &&
        outcome.event.kind === 'reply' &&
        !/^\d\.[12]\./.test(outcome.event.reply.enhanced ?? outcome.classification.status),
    )
  );
}

function replyLine(event: DeliveryEvent): string {
  if (event.kind !== 'reply') return 'deferred';
  const { code, enhanced, text } = event.reply;
  return [code, enhanced, text].filter((part) => part !== undefined && part !== '').join(' ');
}

/**
 * The one connection an attempt may hold open (it owns one destination slot): reused for the next
 * batch to the same address, closed when the attempt moves to another address.
 */
class HeldConnection {
  current: Omit<PooledConnection, 'lease'> | undefined;

  constructor(pooled?: PooledConnection) {
    this.current = pooled;
  }

  /** `verified`: only a connection whose TLS verified for this very host name will do. */
  takeFor(candidate: Candidate, verified = false): SmtpChannel | undefined {
    const held = this.current;
    this.current = undefined;
    if (!held) return undefined;
    const tls = held.channel.tlsSession;
    const trusted = !verified || (held.host === candidate.host && tls.established && tls.verified === true);
    if (held.address === candidate.address && held.port === candidate.port && trusted) return held.channel;
    held.channel.close();
    return undefined;
  }

  keep(candidate: Candidate, channel: SmtpChannel | undefined): void {
    if (channel)
      this.current = { channel, host: candidate.host, address: candidate.address, port: candidate.port };
  }
}

/** A temporary DNS failure outranks "no address" (it may resolve later); a loop outranks both. */
function mergeRouteProblem(previous: DeliveryEvent | undefined, next: DeliveryEvent): DeliveryEvent {
  const rank = (event: DeliveryEvent) =>
    event.kind === 'loop' ? 3 : event.kind === 'dns' && event.failure === 'temporary' ? 2 : 1;
  return previous && rank(previous) >= rank(next) ? previous : next;
}

async function learnFromSession(
  result: SmtpTransactionResult,
  candidate: Candidate,
  deps: AttemptDeps,
  tlsRequired: boolean,
): Promise<void> {
  const events = result.recipients.map((recipient) => recipient.event);
  // A failure of verified TLS says nothing about opportunistic TLS with the host (a certificate
  // for another name still encrypts): it does not send other domains' mail in plaintext.
  if (!tlsRequired && events.some((event) => event.kind === 'network' && event.failure === 'tls-failed')) {
    // The next try goes in plaintext (nodemailer's opportunisticTLS only covers a refused command).
    await deps.tlsMemory.markBroken(candidate.host);
  }
  if (!result.greeted) {
    // The FAQ: when a connection fails, look the name up again next time.
    deps.resolver.forget(candidate.host);
  }
}

function sessionRecord(
  candidate: Candidate,
  result: SmtpTransactionResult,
  startedAt: number,
  policy: AttemptPolicy,
): SessionRecord {
  return {
    startedAt,
    host: candidate.host,
    address: candidate.address,
    port: candidate.port,
    greeted: result.greeted,
    tls: result.tls,
    tlsOutcome: policy.tlsOutcomeOf(result.tlsInfo),
    durationMs: result.durationMs,
    transcript: result.transcript,
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
