import type { Classification, DeliveryEvent, Recipient } from '@outpost/core';
import { classify } from '@outpost/core';
import type { SmtpTimeouts, SmtpTransactionResult, TranscriptLine } from '@outpost/smtp-client';
import { runSmtpTransaction } from '@outpost/smtp-client';
import { addressesOfHost, type Candidate, type RouteDeps, routeDomain } from './destination-route.ts';

export interface AttemptInput {
  domain: string;
  sender: string;
  dsn: { ret?: 'FULL' | 'HDRS'; envid?: string };
  recipients: readonly Recipient[];
  body: Buffer;
}

export interface AttemptDeps extends RouteDeps {
  heloName: string;
  timeouts: SmtpTimeouts;
  maxAddresses: number;
  maxSessions: number;
  maxRecipientsPerTransaction: number;
  sourceAddress?: () => string | undefined;
  tlsMemory: {
    isBroken(host: string): Promise<boolean>;
    markBroken(host: string): Promise<void>;
  };
  /** Test seam for the SMTP client; production uses nodemailer through libs/smtp-client. */
  transact?: typeof runSmtpTransaction;
}

export interface RecipientOutcome {
  recipient: Recipient;
  event: DeliveryEvent;
  classification: Classification & { rule: string };
  remoteHost?: string;
  remoteAddress?: string;
}

/** One SMTP session of the attempt, for the attempt record. */
export interface SessionRecord {
  host: string;
  address: string;
  port: number;
  greeted: boolean;
  tls: boolean;
  durationMs: number;
  transcript: TranscriptLine[];
}

export interface AttemptReport {
  outcomes: RecipientOutcome[];
  sessions: SessionRecord[];
}

/**
 * One delivery attempt for one domain's recipients: route (transport map or MX), then every address
 * of every host in order (RFC 5321 §5.1; the FAQ's round-robin advice), until every recipient has a
 * definite answer, `maxSessions` sessions took place, or `maxAddresses` were tried. Recipients left
 * without a definite answer carry the last temporary event they met.
 */
export async function attemptDelivery(input: AttemptInput, deps: AttemptDeps): Promise<AttemptReport> {
  const transact = deps.transact ?? runSmtpTransaction;
  const outcomes = new Map<string, RecipientOutcome>();
  const sessions: SessionRecord[] = [];
  const settle = (recipient: Recipient, event: DeliveryEvent, candidate?: Candidate) =>
    outcomes.set(recipient.address, {
      recipient,
      event,
      classification: classify(event),
      ...(candidate && { remoteHost: candidate.host, remoteAddress: candidate.address }),
    });
  const pending = () =>
    input.recipients.filter((recipient) => {
      const next = outcomes.get(recipient.address)?.classification.next;
      return next === undefined || next === 'next-address' || next === 'defer';
    });
  const everyoneGets = (event: DeliveryEvent) => {
    for (const recipient of input.recipients) settle(recipient, event);
    return { outcomes: [...outcomes.values()], sessions };
  };

  const route = await routeDomain(input.domain, deps);
  if (route.kind === 'failed') return everyoneGets(route.event);

  let addressesTried = 0;
  let lastRouteProblem: DeliveryEvent | undefined;
  hosts: for (const target of route.hosts) {
    const { addresses, rejected } = await addressesOfHost(target.host, deps);
    if (rejected) lastRouteProblem = mergeRouteProblem(lastRouteProblem, rejected);
    for (const address of addresses) {
      if (
        addressesTried >= deps.maxAddresses ||
        sessions.filter((session) => session.greeted).length >= deps.maxSessions
      ) {
        break hosts;
      }
      const waiting = pending();
      if (waiting.length === 0) break hosts;
      addressesTried++;
      const candidate: Candidate = { ...target, address };
      const tlsBroken = await deps.tlsMemory.isBroken(target.host);
      const sourceAddress = deps.sourceAddress?.();
      for (const batch of chunks(waiting, deps.maxRecipientsPerTransaction)) {
        const result = await transact({
          address,
          port: target.port,
          mxHost: target.host,
          heloName: deps.heloName,
          ...(sourceAddress !== undefined && { sourceAddress }),
          tls: tlsBroken ? 'none' : 'opportunistic',
          lmtp: target.lmtp,
          ...(target.auth && { auth: target.auth }),
          timeouts: deps.timeouts,
          sender: input.sender,
          recipients: batch.map((recipient) => recipient.address),
          ...(input.dsn && { dsn: input.dsn }),
          body: input.body,
        });
        sessions.push(sessionRecord(candidate, result));
        for (const { address: recipientAddress, event } of result.recipients) {
          const recipient = batch.find((entry) => entry.address === recipientAddress);
          if (recipient) settle(recipient, event, candidate);
        }
        await learnFromSession(result, candidate, deps);
        // A server that failed at the connection level will not do better for the next batch.
        if (!result.greeted) break;
      }
    }
  }

  // Nobody was even tried: the route's own problem is every recipient's outcome.
  if (sessions.length === 0) {
    return everyoneGets(
      lastRouteProblem ?? { kind: 'dns', failure: 'no-address', detail: `no address for ${input.domain}` },
    );
  }
  return { outcomes: [...outcomes.values()], sessions };
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
): Promise<void> {
  const events = result.recipients.map((recipient) => recipient.event);
  if (events.some((event) => event.kind === 'network' && event.failure === 'tls-failed')) {
    // The next try goes in plaintext (nodemailer's opportunisticTLS only covers a refused command).
    await deps.tlsMemory.markBroken(candidate.host);
  }
  if (!result.greeted) {
    // The FAQ: when a connection fails, look the name up again next time.
    deps.resolver.forget(candidate.host);
  }
}

function sessionRecord(candidate: Candidate, result: SmtpTransactionResult): SessionRecord {
  return {
    host: candidate.host,
    address: candidate.address,
    port: candidate.port,
    greeted: result.greeted,
    tls: result.tls,
    durationMs: result.durationMs,
    transcript: result.transcript,
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
