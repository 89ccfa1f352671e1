import type { Config } from '@outpost/config';
import type { DsnNotify, Recipient } from '@outpost/core';
import { normalizeAddress } from '@outpost/core';
import type { MemoryGuard } from '@outpost/queue';
import type { Logger } from '@outpost/telemetry';
import type { Redis } from 'ioredis';
import {
  SMTPServer,
  type SMTPServerAddress,
  type SMTPServerAuthentication,
  type SMTPServerDataStream,
  type SMTPServerSession,
} from 'smtp-server';
import type { AcceptMessage } from './accept-message.ts';
import { IngestRefusal } from './ingest-refusal.ts';
import { verifyPassword } from './password-hash.ts';
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

/**
 * The SMTP submission listener (RFC 6409 over STARTTLS, or implicit TLS per RFC 8314). Policy
 * decisions are made at MAIL/RCPT so a refused client learns early; the message is only accepted
 * once `accept` has stored it durably.
 */
export function createSmtpListener(deps: SmtpListenerDeps, mode: 'starttls' | 'implicit-tls'): SMTPServer {
  const { config, logger } = deps;
  return new SMTPServer({
    name: config.hostname,
    banner: 'Outpost ESMTP',
    secure: mode === 'implicit-tls',
    key: deps.tls.key,
    cert: deps.tls.cert,
    size: config.maxMessageSize,
    rejectOversized: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: true,
    // RFC 4954 §4: no credentials in clear text; smtp-server answers 538 before TLS.
    allowInsecureAuth: false,
    hideDSN: false,
    // Our replies carry their own RFC 3463 codes in the text (ours are more precise than the
    // library's per-code defaults), so the library must not add a second one.
    hideENHANCEDSTATUSCODES: true,
    disabledCommands: [],
    // The Received: header names the client by HELO and address; a PTR lookup per connection
    // would only add latency and outside DNS traffic.
    disableReverseLookup: true,
    logger: false,
    onAuth: (auth, _session, callback) => {
      authenticate(deps, auth).then(
        (user) => callback(null, { user }),
        (error: unknown) => callback(error as Error),
      );
    },
    onMailFrom: (address, session, callback) => callback(checkSender(deps, address, session)),
    onRcptTo: (address, session, callback) => callback(checkRecipient(deps, address, session)),
    onData: (stream, session, callback) => {
      receiveData(deps, stream, session).then(
        (id) => callback(null, `2.0.0 Ok: queued as ${id}`),
        (error: unknown) => callback(error as Error),
      );
    },
    onClose: () => {},
  }).on('error', (error) => logger.warn({ err: error }, 'smtp connection error'));
}

async function authenticate(deps: SmtpListenerDeps, auth: SMTPServerAuthentication): Promise<string> {
  const user = deps.users.get(auth.username ?? '');
  // Verify against a dummy hash for unknown users too, so timing does not tell which names exist.
  const ok = await verifyPassword(user?.passwordHash ?? UNKNOWN_USER_HASH, auth.password ?? '');
  if (!user || !ok) {
    deps.logger.warn({ user: auth.username, method: auth.method }, 'authentication failed');
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

function checkSender(
  deps: SmtpListenerDeps,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): Error | null {
  const userName = sessionUser(session);
  if (userName === undefined) {
    return isTrustedClient(deps.config, session.remoteAddress) ? null : new IngestRefusal('authRequired');
  }
  const user = deps.users.get(userName);
  if (!user || !mayUseSender(user, address.address)) {
    deps.logger.warn({ user: userName, sender: address.address }, 'sender not owned by user');
    return new IngestRefusal('senderNotOwned');
  }
  return null;
}

function checkRecipient(
  deps: SmtpListenerDeps,
  _address: SMTPServerAddress,
  session: SMTPServerSession,
): Error | null {
  if (session.envelope.rcptTo.length >= deps.config.maxRecipients)
    return new IngestRefusal('tooManyRecipients');
  return null;
}

async function receiveData(
  deps: SmtpListenerDeps,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    // Past the limit keep draining but stop buffering: memory stays bounded by the limit.
    if (!stream.sizeExceeded) chunks.push(chunk as Buffer);
  }
  if (stream.sizeExceeded) throw new IngestRefusal('messageTooBig');
  const envelope = session.envelope;
  const sender = envelope.mailFrom ? envelope.mailFrom.address : '';
  const userName = sessionUser(session);
  const { id } = await deps.accept({
    sender,
    recipients: envelope.rcptTo.map(toRecipient),
    dsn: {
      ...(envelope.dsn?.ret && { ret: envelope.dsn.ret as 'FULL' | 'HDRS' }),
      ...(envelope.dsn?.envid && { envid: envelope.dsn.envid }),
    },
    raw: Buffer.concat(chunks),
    client: {
      protocol: 'smtp',
      address: plainAddress(session.remoteAddress),
      heloName: session.hostNameAppearsAs,
      tls: session.secure,
      ...(userName !== undefined && { user: userName }),
    },
  });
  return id;
}

function toRecipient(address: SMTPServerAddress): Recipient {
  const dsn = (address as SMTPServerAddress & { dsn?: { notify?: string[]; orcpt?: string } }).dsn;
  return {
    address: normalizeAddress(address.address),
    ...(dsn?.notify && { notify: dsn.notify as DsnNotify[] }),
    ...(dsn?.orcpt && { orcpt: dsn.orcpt }),
  };
}
