import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '@outpost/config';
import type { DsnNotify, Recipient } from '@outpost/core';
import {
  asciiAddress,
  authThrottleVerdict,
  domainOf,
  MAX_AUTH_LINE_OCTETS,
  normalizeAddress,
  relayVerdict,
} from '@outpost/core';
import type { MemoryGuard } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import type {
  SMTPServer,
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerDataStream,
  SMTPServerSession,
} from 'smtp-server';
import type { AcceptMessage } from './accept-message.ts';
import { IngestRefusal } from './ingest-refusal.ts';
import { verifyPassword } from './password-hash.ts';
import { AuthFailureCounter } from './smtp/auth-failures.ts';
import { createCommandScreen } from './smtp/command-screen.ts';
import { MessageRateLimiter } from './smtp/message-rate-limiter.ts';
import { receiveMessage } from './smtp/receive-message.ts';
import { StrictSmtpServer } from './smtp/strict-smtp-server.ts';
import type { TlsMaterial } from './tls.ts';
import { mayUseSender, type SubmissionUser } from './users.ts';

export interface SmtpListenerDeps {
  config: Config;
  accept: AcceptMessage;
  users: ReadonlyMap<string, SubmissionUser>;
  tls: TlsMaterial;
  logger: Logger;
  /** The producer connection: for limits shared by every ingest process (rate limits, throttles). */
  redis: Redis;
  memoryGuard: MemoryGuard;
}

/** IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function isTrustedClient(config: Config, address: string): boolean {
  const plain = plainAddress(address);
  return config.trustedNetworks.check(plain, plain.includes(':') ? 'ipv6' : 'ipv4');
}

/** What the handlers of one listener share. */
interface Listener extends SmtpListenerDeps {
  authFailures: AuthFailureCounter;
  rateLimiter: MessageRateLimiter;
}

/**
 * The SMTP listener (RFC 6409 submission over STARTTLS or implicit TLS per RFC 8314, and the inbound
 * role for OUTPOST_RELAY_DOMAINS). Every command line is screened first (smtp/command-screen.ts);
 * policy is decided at AUTH, MAIL and RCPT so a refused client learns early; DATA is checked while it
 * streams; the message is only accepted once `accept` has stored it durably.
 */
export function createSmtpListener(deps: SmtpListenerDeps, mode: 'starttls' | 'implicit-tls'): SMTPServer {
  const { config, logger } = deps;
  const listener: Listener = {
    ...deps,
    authFailures: new AuthFailureCounter(deps.redis, config.authThrottle.windowMs, logger),
    rateLimiter: new MessageRateLimiter(deps.redis, config.rateLimits, logger),
  };
  return new StrictSmtpServer({
    name: config.hostname,
    banner: 'Outpost ESMTP',
    secure: mode === 'implicit-tls',
    key: deps.tls.key,
    cert: deps.tls.cert,
    size: config.maxMessageSize,
    // smtp-server's own 552 lacks the enhanced code: receiveMessage refuses with 552 5.3.4 instead.
    rejectOversized: false,
    maxClients: config.smtpMaxClients,
    socketTimeout: config.smtpIdleTimeoutMs,
    sessionTimeoutMs: config.smtpSessionTimeoutMs,
    // The hard cap of the line parser (CRLF excluded); the screen applies the per-command limits.
    maxCommandLength: MAX_AUTH_LINE_OCTETS - 2,
    screenCommand: createCommandScreen(config),
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // RFC 4954 §4: no credentials in clear text; smtp-server answers 538 before TLS.
    allowInsecureAuth: false,
    hideDSN: false,
    // Our replies carry their own RFC 3463 codes in the text (ours are more precise than the
    // library's per-code defaults), so the library must not add a second one.
    hideENHANCEDSTATUSCODES: true,
    // smtp-server implements no CHUNKING (RFC 3030), so BDAT is neither advertised nor accepted.
    disabledCommands: [],
    // The Received: header names the client by HELO and address; a PTR lookup per connection
    // would only add latency and outside DNS traffic.
    disableReverseLookup: true,
    logger: false,
    onAuth: (auth, session, callback) => {
      authenticate(listener, auth, session).then(
        (user) => callback(null, { user }),
        (error: unknown) => callback(error as Error),
      );
    },
    onMailFrom: (address, session, callback) => {
      checkSender(listener, address, session).then(
        () => callback(),
        (error: unknown) => callback(error as Error),
      );
    },
    onRcptTo: (address, session, callback) => callback(checkRecipient(listener, address, session)),
    onData: (stream, session, callback) => {
      receiveData(listener, stream, session).then(
        (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
        (error: unknown) => callback(error as Error),
      );
    },
    onClose: () => {},
  }).on('error', (error) => logger.warn({ err: error }, 'smtp connection error'));
}

/**
 * Checks credentials, throttled per client address and per user name: past a few failures every
 * reply waits (before the check, so the delay tells nothing), past the limit AUTH is refused with
 * 421 and the connection closed without checking anything. Passwords are never logged.
 */
async function authenticate(
  listener: Listener,
  auth: SMTPServerAuthentication,
  session: SMTPServerSession,
): Promise<string> {
  const { authFailures, config, logger } = listener;
  const name = auth.username ?? '';
  const client = plainAddress(session.remoteAddress);
  const verdict = authThrottleVerdict(await authFailures.failures(client, name), config.authThrottle);
  if (verdict.action === 'refuse') {
    logger.warn({ user: name, client, method: auth.method }, 'authentication refused: too many failures');
    throw new IngestRefusal('authThrottled');
  }
  if (verdict.delayMs > 0) await sleep(verdict.delayMs);
  const user = listener.users.get(name);
  // Verify against a dummy hash for unknown users too, so timing does not tell which names exist.
  const ok = await verifyPassword(user?.passwordHash ?? UNKNOWN_USER_HASH, auth.password ?? '');
  if (!user || !ok) {
    await authFailures.recordFailure(client, name);
    logger.warn({ user: name, client, method: auth.method }, 'authentication failed');
    throw new IngestRefusal('authFailed');
  }
  return user.name;
}

// A well-formed hash that matches no password: checking it costs what a real user's check costs.
const UNKNOWN_USER_HASH =
  '$scrypt$ln=15,r=8,p=1$uXyWJrjVQwvZ3/VydZ2+Sg==$x0x7RBnYwVw0VJm2F5xC2X8GkH0rJ8vR8wDR6E7q8qQ=';

function sessionUser(session: SMTPServerSession): string | undefined {
  return typeof session.user === 'string' ? session.user : undefined;
}

/**
 * MAIL: who may start a transaction. With no relay domains nothing can be accepted from an untrusted
 * client without AUTH, so it is told at once (530, RFC 4954 §6); with relay domains it may go on, and
 * RCPT decides per recipient. An authenticated user may only use its own senders. Then the rate limits.
 */
async function checkSender(
  listener: Listener,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): Promise<void> {
  const { config, logger } = listener;
  const userName = sessionUser(session);
  const trusted = isTrustedClient(config, session.remoteAddress);
  if (userName === undefined && !trusted && config.relayDomains.length === 0) {
    throw new IngestRefusal('authRequired');
  }
  if (userName !== undefined) {
    const user = listener.users.get(userName);
    const sender = asciiAddress(address.address);
    if (!user || !mayUseSender(user, sender)) {
      logger.warn({ user: userName, sender }, 'sender not owned by user');
      throw new IngestRefusal('senderNotOwned');
    }
  }
  const client = plainAddress(session.remoteAddress);
  // Trusted networks are our own applications: only their users, if any, are counted.
  const over = await listener.rateLimiter.count({
    ...(userName !== undefined && { user: userName }),
    ...(!trusted && { address: client }),
  });
  if (over !== undefined) {
    logger.warn({ user: userName, client, limit: over }, 'message rate limit reached');
    throw new IngestRefusal('rateLimited');
  }
}

/** RCPT: relay control (the recipient count and the address syntax were settled by the screen). */
function checkRecipient(
  listener: Listener,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): Error | null {
  const { config } = listener;
  const verdict = relayVerdict({
    domain: domainOf(asciiAddress(address.address)),
    relayDomains: config.relayDomains,
    authenticated: sessionUser(session) !== undefined,
    trusted: isTrustedClient(config, session.remoteAddress),
  });
  if (verdict !== 'denied') return null;
  listener.logger.info(
    { client: plainAddress(session.remoteAddress), recipient: address.address },
    'relay denied',
  );
  return new IngestRefusal('relayDenied');
}

async function receiveData(
  listener: Listener,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  const raw = await receiveMessage(stream);
  const envelope = session.envelope;
  const sender = envelope.mailFrom ? asciiAddress(envelope.mailFrom.address) : '';
  const userName = sessionUser(session);
  const user = userName === undefined ? undefined : listener.users.get(userName);
  const trusted = isTrustedClient(listener.config, session.remoteAddress);
  const { id } = await listener.accept({
    sender,
    recipients: envelope.rcptTo.map(toRecipient),
    dsn: {
      ...(envelope.dsn?.ret && { ret: envelope.dsn.ret as 'FULL' | 'HDRS' }),
      ...(envelope.dsn?.envid && { envid: envelope.dsn.envid }),
    },
    raw,
    client: {
      protocol: 'smtp',
      address: plainAddress(session.remoteAddress),
      heloName: session.hostNameAppearsAs,
      tls: session.secure,
      ...(userName !== undefined && { user: userName }),
    },
    // Our own applications (trusted networks) may sign as any domain; a user as its own senders;
    // an unauthenticated client handing in mail for a relay domain as none.
    ...((trusted || user) && {
      mayUseAddress: (address: string) => trusted || (user !== undefined && mayUseSender(user, address)),
    }),
  });
  return id;
}

/** smtp-server hands domains over as U-labels; DNS and the queue need A-labels (RFC 5890). */
function toRecipient(address: SMTPServerAddress): Recipient {
  const dsn = address.dsn;
  return {
    address: normalizeAddress(asciiAddress(address.address)),
    ...(dsn?.notify && { notify: dsn.notify as DsnNotify[] }),
    ...(dsn?.orcpt && { orcpt: dsn.orcpt }),
  };
}
