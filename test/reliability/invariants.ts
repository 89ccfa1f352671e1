/**
 * The invariants every reliability scenario ends with, checked over a snapshot of what happened:
 * what ingest accepted (the scenario's ledger), what the receivers got, the delivery log and the
 * queues in Redis, and the spans when a collector was listening. Pure: `collectSnapshot`
 * (snapshot.ts) gathers the facts, `checkInvariants` judges them, so a unit test can feed it a
 * violating state.
 *
 * I1 every accepted recipient reached a final state (delivered, bounced, expired; a suppressed
 *    recipient is bounced) and no job of the message is still pending;
 * I2 no (message, recipient) reached a receiver twice, except inside the scenario's named window:
 *    at most one extra copy per injected fault, each flagged by the product as a possible
 *    duplicate (or, where the product cannot know, explained by the scenario);
 * I3 every DSN is sent from <>, and none goes to <> (a failed message from <> is reported to the
 *    postmaster at most);
 * I4 every attempt has an attempt record carrying the message's trace id, and, when spans were
 *    collected, a `delivery.attempt` span in that trace (and every such span has its record);
 * I5 no job is left active, or failed without a final state for its recipients;
 * I6 no stored body outlives its message: a body is left only where a job of its message still
 *    waits (Redis runs noeviction, so a leaked body is memory that never comes back).
 */

export type Invariant = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6';

export interface Violation {
  invariant: Invariant;
  message: string;
  messageId?: string;
  recipient?: string;
}

/** A message the scenario had answered 250/202 for, with the recipients it accepted. */
export interface AcceptedMessage {
  id: string;
  sender: string;
  recipients: string[];
}

/** One copy a receiver recorded (acknowledged or stored-then-dropped: the receiver has it either way). */
export interface ReceivedCopy {
  receiver: string;
  from: string;
  to: string[];
  /** The message as received: its top Received: field names the Outpost message id. */
  data: Buffer;
}

/** What the delivery log holds about one attempt (libs/store AttemptRecord, the fields checked). */
export interface AttemptFacts {
  messageId: string;
  domain: string;
  attempt: number;
  traceId?: string;
  sessions: number;
  recipients: Array<{ address: string; verdict: string; status: string; possibleDuplicate?: boolean }>;
}

export interface JobFacts {
  queue: string;
  id: string;
  state: string;
  failedReason?: string;
  /** For delivery jobs: the message and the recipients still pending in the job. */
  messageId?: string;
  recipients?: string[];
}

export interface SpanFacts {
  name: string;
  traceId: string;
  attributes: Record<string, unknown>;
}

export interface ScenarioSnapshot {
  accepted: AcceptedMessage[];
  received: ReceivedCopy[];
  /** messageId -> address -> status, from the delivery log. */
  states: Map<string, Map<string, string>>;
  attempts: AttemptFacts[];
  /** messageId -> what the delivery log knows of the message (senders of DSNs and originals). */
  meta: Map<string, { sender: string; recipients: string[]; traceparent?: string; messageIdHeader?: string }>;
  /** Jobs in any state but completed. */
  jobs: JobFacts[];
  /** Message ids with a stored body (`{outpost}:body:<id>`). */
  bodies: string[];
  /** Undefined when no collector listened. */
  spans?: SpanFacts[];
}

export interface Allowances {
  /**
   * The scenario's duplicate window: `faults` faults were injected in it, each may cause one extra
   * copy. `uncounted` explains why the product cannot flag these (then they need no flag).
   */
  duplicates?: { window: string; faults: number; uncounted?: string };
  /** Attempts cut off by a killed worker: they may have a copy at a receiver but no record or span. */
  unrecordedAttempts?: number;
  /** The configured postmaster, the one address a report about a failed message from <> may go to. */
  postmaster?: string;
  /** Spans were collected from processes that all exited cleanly: every record must have its span. */
  spansComplete?: boolean;
}

export interface InvariantReport {
  violations: Violation[];
  /** Allowed deviations, said out loud (the duplicates of the window, unrecorded attempts). */
  explained: string[];
  summary: {
    messages: number;
    recipients: number;
    copies: number;
    duplicates: number;
    attempts: number;
    dsns: number;
    spans?: number;
  };
}

const FINAL = new Set(['delivered', 'bounced', 'expired']);
const PENDING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

export function checkInvariants(snapshot: ScenarioSnapshot, allowances: Allowances = {}): InvariantReport {
  const violations: Violation[] = [];
  const explained: string[] = [];
  const copies = copiesByRecipient(snapshot.received);
  const dsns = snapshot.received.filter((copy) => isDsn(copy.data));
  checkFinalStates(snapshot, copies, violations);
  const duplicates = checkDuplicates(snapshot, copies, allowances, violations, explained);
  checkDsns(snapshot, dsns, allowances, violations);
  checkAttempts(snapshot, copies, allowances, violations, explained);
  checkJobs(snapshot, violations);
  checkBodies(snapshot, violations);
  return {
    violations,
    explained,
    summary: {
      messages: snapshot.accepted.length,
      recipients: snapshot.accepted.reduce((total, message) => total + message.recipients.length, 0),
      copies: snapshot.received.length,
      duplicates,
      attempts: snapshot.attempts.length,
      dsns: dsns.length,
      ...(snapshot.spans && { spans: snapshot.spans.length }),
    },
  };
}

/** One line per violation, grouped by invariant, for an assertion message. */
export function formatViolations(report: InvariantReport, limit = 20): string {
  const lines = report.violations
    .slice(0, limit)
    .map((violation) => `${violation.invariant}: ${violation.message}`);
  if (report.violations.length > limit) lines.push(`... and ${report.violations.length - limit} more`);
  return lines.join('\n');
}

/** I1: final states, and nothing of the message still pending in the queues. */
function checkFinalStates(
  snapshot: ScenarioSnapshot,
  copies: Map<string, number>,
  violations: Violation[],
): void {
  const pendingJobs = new Map<string, JobFacts[]>();
  for (const job of snapshot.jobs) {
    if (!PENDING_STATES.has(job.state) || !job.messageId) continue;
    pendingJobs.set(job.messageId, [...(pendingJobs.get(job.messageId) ?? []), job]);
  }
  for (const message of snapshot.accepted) {
    const states = snapshot.states.get(message.id);
    for (const recipient of message.recipients) {
      const status = states?.get(recipient) ?? findCaseless(states, recipient);
      const base = { invariant: 'I1' as const, messageId: message.id, recipient };
      if (status === undefined) {
        violations.push({ ...base, message: `${message.id} <${recipient}>: no state in the delivery log` });
      } else if (!FINAL.has(status)) {
        violations.push({ ...base, message: `${message.id} <${recipient}>: ${status}, not final` });
      } else if (status === 'delivered' && (copies.get(copyKey(message.id, recipient)) ?? 0) === 0) {
        violations.push({
          ...base,
          message: `${message.id} <${recipient}>: delivered in the log, but no receiver has it`,
        });
      }
    }
    for (const job of pendingJobs.get(message.id) ?? []) {
      violations.push({
        invariant: 'I1',
        messageId: message.id,
        message: `${message.id}: ${job.queue} job ${job.id} still ${job.state}`,
      });
    }
  }
}

/** I2: returns the number of repeated transactions found. */
function checkDuplicates(
  snapshot: ScenarioSnapshot,
  copies: Map<string, number>,
  allowances: Allowances,
  violations: Violation[],
  explained: string[],
): number {
  const flagged = new Set<string>();
  for (const attempt of snapshot.attempts) {
    for (const recipient of attempt.recipients) {
      if (recipient.possibleDuplicate) flagged.add(copyKey(attempt.messageId, recipient.address));
    }
  }
  const window = allowances.duplicates;
  for (const [key, count] of copies) {
    if (count < 2) continue;
    const [messageId, recipient] = splitKey(key);
    const base = { invariant: 'I2' as const, messageId, recipient };
    if (!window) {
      violations.push({ ...base, message: `${messageId} <${recipient}>: ${count} copies at the receivers` });
      continue;
    }
    if (count - 1 > window.faults) {
      violations.push({
        ...base,
        message: `${messageId} <${recipient}>: ${count} copies, more than one extra per fault in "${window.window}"`,
      });
    }
    if (flagged.has(key)) explained.push(`${messageId} <${recipient}>: duplicate counted by the product`);
    else if (window.uncounted) explained.push(`${messageId} <${recipient}>: duplicate, ${window.uncounted}`);
    else {
      violations.push({
        ...base,
        message: `${messageId} <${recipient}>: duplicate not counted by the product (no attempt flagged it a possible duplicate)`,
      });
    }
  }
  const repeated = duplicateTransactions(snapshot.received);
  if (window && repeated > window.faults) {
    violations.push({
      invariant: 'I2',
      message: `${repeated} repeated transaction(s) in "${window.window}", more than its ${window.faults} injected fault(s)`,
    });
  }
  return repeated;
}

/** I3: DSNs come from <>, never go to <>, and a failed message from <> is reported to the postmaster only. */
function checkDsns(
  snapshot: ScenarioSnapshot,
  dsns: ReceivedCopy[],
  allowances: Allowances,
  violations: Violation[],
): void {
  const senderByHeader = new Map<string, string>();
  for (const message of snapshot.meta.values()) {
    if (message.messageIdHeader) senderByHeader.set(message.messageIdHeader, message.sender);
  }
  for (const copy of dsns) {
    const id = outpostIdOf(copy.data) ?? '?';
    const about = headerOf(copy.data, 'in-reply-to');
    if (copy.from !== '') {
      violations.push({
        invariant: 'I3',
        messageId: id,
        message: `DSN ${id} sent from <${copy.from}>, not <>`,
      });
    }
    if (about !== undefined && senderByHeader.get(about) === '') {
      const others = copy.to.filter((to) => to.toLowerCase() !== allowances.postmaster?.toLowerCase());
      if (others.length > 0) {
        violations.push({
          invariant: 'I3',
          messageId: id,
          message: `DSN ${id} about ${about}, a message from <>, sent to ${others.join(', ')}`,
        });
      }
    }
  }
  // Queued DSNs, delivered or not: a message from <> (a DSN) never has an empty recipient.
  for (const [messageId, message] of snapshot.meta) {
    if (message.sender === '' && message.recipients.some((to) => to === '' || to === '<>')) {
      violations.push({ invariant: 'I3', messageId, message: `DSN ${messageId} queued to <>` });
    }
  }
}

/** I4: attempt records (trace, numbering, one per copy) and their spans. */
function checkAttempts(
  snapshot: ScenarioSnapshot,
  copies: Map<string, number>,
  allowances: Allowances,
  violations: Violation[],
  explained: string[],
): void {
  const byMessage = new Map<string, AttemptFacts[]>();
  for (const attempt of snapshot.attempts) {
    byMessage.set(attempt.messageId, [...(byMessage.get(attempt.messageId) ?? []), attempt]);
    const traceparent = snapshot.meta.get(attempt.messageId)?.traceparent;
    const traceId = traceparent?.split('-')[1];
    if (traceId && attempt.traceId !== traceId) {
      violations.push({
        invariant: 'I4',
        messageId: attempt.messageId,
        message: `${attempt.messageId} ${attempt.domain} attempt ${attempt.attempt}: record in trace ${attempt.traceId ?? 'none'}, the message's is ${traceId}`,
      });
    }
  }
  // Attempt numbers per (message, domain) run 1..n: a gap is an attempt whose record was lost.
  const numbers = new Map<string, Set<number>>();
  for (const attempt of snapshot.attempts) {
    const key = `${attempt.messageId} ${attempt.domain}`;
    numbers.set(key, (numbers.get(key) ?? new Set()).add(attempt.attempt));
  }
  for (const [key, seen] of numbers) {
    const missing = range(1, Math.max(...seen)).filter((n) => !seen.has(n));
    if (missing.length > 0) {
      violations.push({ invariant: 'I4', message: `${key}: no record of attempt(s) ${missing.join(', ')}` });
    }
  }
  // Every copy at a receiver was made by an attempt that says so (delivered, or a flagged loss of
  // the reply); copies of attempts cut off by a killed worker are the scenario's to allow.
  // Per message, the most copies of one recipient that no record accounts for: the transactions
  // of attempts cut off before they could write one.
  const unrecordedByMessage = new Map<string, number>();
  const accepted = new Set(snapshot.accepted.map((message) => message.id));
  for (const [key, count] of copies) {
    const [messageId, recipient] = splitKey(key);
    if (!accepted.has(messageId) && !snapshot.meta.has(messageId)) continue;
    const recorded = (byMessage.get(messageId) ?? []).filter((attempt) =>
      attempt.recipients.some(
        (entry) =>
          entry.address.toLowerCase() === recipient &&
          (entry.verdict === 'delivered' || entry.possibleDuplicate === true),
      ),
    ).length;
    if (count > recorded) {
      unrecordedByMessage.set(messageId, Math.max(unrecordedByMessage.get(messageId) ?? 0, count - recorded));
      if (recorded === 0 || (allowances.unrecordedAttempts ?? 0) === 0) {
        violations.push({
          invariant: 'I4',
          messageId,
          recipient,
          message: `${messageId} <${recipient}>: ${count} copies at the receivers, ${recorded} attempt record(s) saying so`,
        });
      }
    }
  }
  const unrecorded = [...unrecordedByMessage.values()].reduce((total, n) => total + n, 0);
  if (unrecorded > 0 && (allowances.unrecordedAttempts ?? 0) > 0) {
    if (unrecorded > allowances.unrecordedAttempts!) {
      violations.push({
        invariant: 'I4',
        message: `${unrecorded} transaction(s) made by attempts without a record, more than the ${allowances.unrecordedAttempts} attempt(s) the scenario cut off`,
      });
    } else
      explained.push(`${unrecorded} transaction(s) made by attempts cut off by a killed worker (no record)`);
  }
  if (snapshot.spans) checkSpans(snapshot, snapshot.spans, allowances, violations);
}

function checkSpans(
  snapshot: ScenarioSnapshot,
  spans: SpanFacts[],
  allowances: Allowances,
  violations: Violation[],
): void {
  const attemptSpans = spans.filter(
    (span) => span.name === 'delivery.attempt' && span.attributes['outpost.no_slot'] === undefined,
  );
  const spanKey = (messageId: unknown, domain: unknown, attempt: unknown) =>
    `${String(messageId)} ${String(domain)} ${Number(attempt)}`;
  const spansByKey = new Map<string, SpanFacts[]>();
  for (const span of attemptSpans) {
    const key = spanKey(
      span.attributes['outpost.message.id'],
      span.attributes['outpost.domain'],
      span.attributes['outpost.attempt'],
    );
    spansByKey.set(key, [...(spansByKey.get(key) ?? []), span]);
  }
  const recordKeys = new Set(snapshot.attempts.map((a) => spanKey(a.messageId, a.domain, a.attempt)));
  for (const attempt of snapshot.attempts) {
    const key = spanKey(attempt.messageId, attempt.domain, attempt.attempt);
    const found = spansByKey.get(key) ?? [];
    if (found.length === 0) {
      // Only attempts that talked to a server are sure to have a span (an expiry or a loop has none),
      // and only when every process exported before it ended.
      if (allowances.spansComplete && attempt.sessions > 0) {
        violations.push({
          invariant: 'I4',
          messageId: attempt.messageId,
          message: `${key}: attempt record without a delivery.attempt span`,
        });
      }
    } else if (attempt.traceId && !found.some((span) => span.traceId === attempt.traceId)) {
      violations.push({
        invariant: 'I4',
        messageId: attempt.messageId,
        message: `${key}: span in trace ${found[0]!.traceId}, the record's is ${attempt.traceId}`,
      });
    }
  }
  let orphans = 0;
  for (const [key, found] of spansByKey) {
    if (recordKeys.has(key)) continue;
    orphans += found.length;
    if ((allowances.unrecordedAttempts ?? 0) === 0) {
      violations.push({
        invariant: 'I4',
        message: `${key}: delivery.attempt span without an attempt record`,
      });
    }
  }
  if (orphans > (allowances.unrecordedAttempts ?? 0) && (allowances.unrecordedAttempts ?? 0) > 0) {
    violations.push({
      invariant: 'I4',
      message: `${orphans} span(s) without a record, more than the ${allowances.unrecordedAttempts} attempt(s) the scenario cut off`,
    });
  }
}

/** I5: nothing active, nothing failed unless its recipients all have a final state. */
function checkJobs(snapshot: ScenarioSnapshot, violations: Violation[]): void {
  for (const job of snapshot.jobs) {
    if (job.state === 'active') {
      violations.push({
        invariant: 'I5',
        ...(job.messageId && { messageId: job.messageId }),
        message: `${job.queue} job ${job.id} left active`,
      });
    } else if (job.state === 'failed') {
      const states = job.messageId ? snapshot.states.get(job.messageId) : undefined;
      const open = (job.recipients ?? []).filter((address) => {
        const status = states?.get(address) ?? findCaseless(states, address);
        return status === undefined || !FINAL.has(status);
      });
      if (!job.recipients || open.length > 0) {
        violations.push({
          invariant: 'I5',
          ...(job.messageId && { messageId: job.messageId }),
          message: `${job.queue} job ${job.id} failed (${job.failedReason ?? 'no reason'}) without a final record${open.length > 0 ? ` for ${open.join(', ')}` : ''}`,
        });
      }
    }
  }
}

/** I6: a body is kept only while a job of its message is not completed. */
function checkBodies(snapshot: ScenarioSnapshot, violations: Violation[]): void {
  const open = new Set(snapshot.jobs.flatMap((job) => (job.messageId ? [job.messageId] : [])));
  for (const messageId of snapshot.bodies) {
    if (!open.has(messageId))
      violations.push({
        invariant: 'I6',
        messageId,
        message: `${messageId}: body left after its message finished`,
      });
  }
}

/** (outpost message id, lower-cased recipient) -> copies at the receivers. */
function copiesByRecipient(received: readonly ReceivedCopy[]): Map<string, number> {
  const copies = new Map<string, number>();
  for (const copy of received) {
    const id = outpostIdOf(copy.data);
    if (!id) continue;
    for (const to of copy.to) {
      const key = copyKey(id, to);
      copies.set(key, (copies.get(key) ?? 0) + 1);
    }
  }
  return copies;
}

/**
 * Copies (transactions) that repeated a recipient already served: one fault (a lost 250, a killed
 * worker) repeats one transaction, whatever its number of recipients.
 */
function duplicateTransactions(received: readonly ReceivedCopy[]): number {
  const seen = new Set<string>();
  let repeated = 0;
  for (const copy of received) {
    const id = outpostIdOf(copy.data);
    if (!id) continue;
    const keys = copy.to.map((to) => copyKey(id, to));
    if (keys.some((key) => seen.has(key))) repeated++;
    for (const key of keys) seen.add(key);
  }
  return repeated;
}

const copyKey = (messageId: string, recipient: string) => `${messageId}\n${recipient.toLowerCase()}`;

function splitKey(key: string): [string, string] {
  const cut = key.indexOf('\n');
  return [key.slice(0, cut), key.slice(cut + 1)];
}

/** The id in the Received: field Outpost puts on top: "... (Outpost) with ESMTP id <uuid>". */
export function outpostIdOf(data: Buffer): string | undefined {
  const head = data.subarray(0, 2048).toString('latin1');
  return head.match(/\(Outpost\)(?: with \S+)? id ([0-9a-f-]{36})/)?.[1];
}

/** A delivery status notification (RFC 3464 §2: multipart/report; report-type=delivery-status). */
export function isDsn(data: Buffer): boolean {
  const type = headerOf(data, 'content-type') ?? '';
  return /^multipart\/report\b/i.test(type) && /report-type="?(?:global-)?delivery-status/i.test(type);
}

/** An unfolded header field of the message, or undefined. */
export function headerOf(data: Buffer, name: string): string | undefined {
  const text = data.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const header = (end === -1 ? text : text.slice(0, end)).replace(/\r\n[ \t]+/g, ' ');
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name) return line.slice(colon + 1).trim();
  }
  return undefined;
}

function findCaseless(states: Map<string, string> | undefined, address: string): string | undefined {
  if (!states) return undefined;
  for (const [key, value] of states) if (key.toLowerCase() === address.toLowerCase()) return value;
  return undefined;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
