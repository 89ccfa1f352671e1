import type { DeliveryEvent, SmtpStage } from '@outpost/core';
import { parseSmtpReply } from '@outpost/core';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { eventOfError, type NodemailerSmtpError } from './smtp-error.ts';
import { type TranscriptLine, TranscriptRecorder } from './transcript.ts';

/** RFC 5321 §4.5.3.2 timeouts; tests shrink them. */
export interface SmtpTimeouts {
  connectMs: number;
  greetingMs: number;
  /** Inactivity on an established session: covers MAIL/RCPT (5 min), DATA (2 min), end of data (10 min). */
  commandMs: number;
}

export const RFC5321_TIMEOUTS: SmtpTimeouts = { connectMs: 30_000, greetingMs: 300_000, commandMs: 600_000 };

export interface SmtpTransactionOptions {
  /** The IP address to connect to. */
  address: string;
  port: number;
  /** The MX host name: TLS SNI, and for the record. */
  mxHost: string;
  heloName: string;
  sourceAddress?: string;
  /** 'opportunistic': STARTTLS when offered, plaintext otherwise; 'none': never (a host known TLS-broken). */
  tls: 'opportunistic' | 'none';
  lmtp?: boolean;
  auth?: { user: string; pass: string };
  timeouts: SmtpTimeouts;
  sender: string;
  recipients: readonly string[];
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string };
  body: Buffer;
}

export interface RecipientEvent {
  address: string;
  event: DeliveryEvent;
}

export interface SmtpTransactionResult {
  /** The server greeted us: an SMTP session took place (counts toward the per-attempt session limit). */
  greeted: boolean;
  tls: boolean;
  /** One event per recipient: the reply or failure that decided it in this session. */
  recipients: RecipientEvent[];
  transcript: TranscriptLine[];
  durationMs: number;
}

/**
 * One SMTP transaction to one address with nodemailer's client: connect, EHLO (HELO fallback),
 * STARTTLS when offered, MAIL, RCPT per recipient, DATA. Never throws: every way it can end is an
 * event per recipient, ready for classification.
 */
export async function runSmtpTransaction(options: SmtpTransactionOptions): Promise<SmtpTransactionResult> {
  const started = Date.now();
  const transcript = new TranscriptRecorder();
  transcript.note(`connecting to ${options.mxHost} [${options.address}]:${options.port}`);
  const connection = new SMTPConnection({
    host: options.address,
    port: options.port,
    name: options.heloName,
    ...(options.sourceAddress && { localAddress: options.sourceAddress }),
    secure: false,
    ignoreTLS: options.tls === 'none',
    opportunisticTLS: true,
    // Opportunistic TLS (RFC 3207 §4 / RFC 7672 "may"): encrypt whatever the certificate; MTA-STS
    // and DANE are what make verification mandatory.
    tls: { servername: options.mxHost, rejectUnauthorized: false },
    lmtp: options.lmtp ?? false,
    connectionTimeout: options.timeouts.connectMs,
    greetingTimeout: options.timeouts.greetingMs,
    socketTimeout: options.timeouts.commandMs,
    logger: transcript.logger as unknown as SMTPConnection.Options['logger'],
    transactionLog: true,
  });
  let greeted = false;
  connection.on('error', () => {});
  const finish = (recipients: RecipientEvent[]): SmtpTransactionResult => {
    connection.close();
    return {
      greeted,
      tls: connection.secure,
      recipients,
      transcript: transcript.lines,
      durationMs: Date.now() - started,
    };
  };
  const everyone = (event: DeliveryEvent) => options.recipients.map((address) => ({ address, event }));
  // A 220 banner arrived (a 421/554 banner refuses the session and does not count).
  const sawGreeting = () =>
    transcript.lines.some((line) => line.direction === 'S' && line.text.startsWith('220'));

  try {
    await new Promise<void>((resolve, reject) => {
      // nodemailer reports some connect failures (refused, timeouts) as 'error' events, others
      // (a close before the banner) through the callback.
      connection.once('error', reject);
      connection.connect((error) => (error ? reject(error) : resolve()));
    });
    greeted = true;
    if (options.auth) {
      const auth = options.auth;
      await new Promise<void>((resolve, reject) =>
        connection.login({ user: auth.user, pass: auth.pass }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
  } catch (error) {
    greeted = false;
    const bannerSeen = sawGreeting();
    return finish(
      everyone(
        eventOfError(error as NodemailerSmtpError, {
          greeted: bannerSeen,
          bodySent: false,
          stage: stageFromTranscript(transcript.lines),
        }),
      ),
    );
  }

  // RFC 6531 §3.4: an internationalized address needs a server that offers SMTPUTF8; there is no
  // downgrade, so without it the message cannot be delivered there (5.6.7).
  const needsSmtpUtf8 = /[^\x00-\x7f]/.test([options.sender, ...options.recipients].join(''));
  if (needsSmtpUtf8 && !offersExtension(transcript.lines, 'SMTPUTF8')) {
    return finish(
      everyone({
        kind: 'reply',
        stage: 'mail',
        reply: { code: 553, enhanced: '5.6.7', text: '(local) the receiving server does not offer SMTPUTF8' },
      }),
    );
  }

  try {
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
      connection.once('error', reject);
      connection.send(
        {
          from: options.sender === '' ? false : options.sender,
          to: [...options.recipients],
          size: options.body.length,
          // BODY=8BITMIME (RFC 6152) when the message has 8-bit bytes and the server offers it.
          use8BitMime: options.body.some((byte) => byte > 0x7f),
          ...(options.dsn && (options.dsn.ret || options.dsn.envid) && { dsn: options.dsn }),
        } as SMTPConnection.Envelope,
        options.body,
        (error, result) => (error ? reject(error) : resolve(result)),
      );
    });
    return finish(recipientEventsOfSuccess(options.recipients, info));
  } catch (error) {
    const failure = error as NodemailerSmtpError;
    // Recipients refused at RCPT keep their own replies even when the transaction failed later.
    const refused = new Map<string, DeliveryEvent>();
    for (const rejected of failure.rejectedErrors ?? []) {
      const reply = rejected.response ? parseSmtpReply(rejected.response) : undefined;
      if (rejected.recipient && reply)
        refused.set(rejected.recipient, { kind: 'reply', stage: 'rcpt', reply });
    }
    const sessionEvent = eventOfError(failure, {
      greeted: true,
      bodySent: transcript.bodySent,
      stage: stageFromTranscript(transcript.lines),
    });
    return finish(
      options.recipients.map((address) => ({ address, event: refused.get(address) ?? sessionEvent })),
    );
  }
}

function recipientEventsOfSuccess(
  recipients: readonly string[],
  info: SMTPConnection.SentMessageInfo,
): RecipientEvent[] {
  const finalReply = parseSmtpReply(info.response) ?? { code: 250, text: info.response };
  const refused = new Map<string, NodemailerSmtpError>();
  for (const rejected of (info.rejectedErrors ?? []) as NodemailerSmtpError[]) {
    if (rejected.recipient) refused.set(rejected.recipient, rejected);
  }
  return recipients.map((address) => {
    const rejected = refused.get(address);
    const reply = rejected?.response ? parseSmtpReply(rejected.response) : undefined;
    if (rejected && reply) {
      return {
        address,
        event: { kind: 'reply', stage: rejected.command === 'DATA' ? 'end-of-data' : 'rcpt', reply },
      };
    }
    if (rejected)
      return {
        address,
        event: { kind: 'network', stage: 'rcpt', failure: 'reset', detail: rejected.message },
      };
    return { address, event: { kind: 'reply', stage: 'end-of-data', reply: finalReply } };
  });
}

/** The stage of the last command we sent, for failures that carry no command of their own. */
function stageFromTranscript(lines: readonly TranscriptLine[]): SmtpStage {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line.direction !== 'C') continue;
    const command = line.text.toUpperCase();
    if (command.startsWith('<')) return 'end-of-data';
    if (command.startsWith('DATA')) return 'data';
    if (command.startsWith('RCPT')) return 'rcpt';
    if (command.startsWith('MAIL')) return 'mail';
    if (command.startsWith('STARTTLS')) return 'starttls';
    if (command.startsWith('EHLO') || command.startsWith('HELO')) return 'ehlo';
  }
  return 'connect';
}

/** Whether the server's EHLO reply (as recorded in the transcript) offers an extension. */
function offersExtension(lines: readonly TranscriptLine[], keyword: string): boolean {
  const pattern = new RegExp(`^250[ -]${keyword}\\b`, 'i');
  return lines.some((line) => line.direction === 'S' && pattern.test(line.text));
}
