import { isAscii } from 'node:buffer';
import type { DeliveryEvent, SmtpReply, SmtpStage } from '@outpost/core';
import { parseSmtpReply } from '@outpost/core';
import type SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { bodyWithGatedDot } from './final-dot-gate.ts';
import { createReplyWatchdog, type ReplyTimeouts, RFC5321_REPLY_TIMEOUTS } from './reply-watchdog.ts';
import { type ChannelOptions, SmtpChannel, type TlsSessionInfo } from './smtp-channel.ts';
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

export interface SmtpTransactionOptions extends ChannelOptions {
  auth?: { user: string; pass: string };
  timeouts: SmtpTimeouts;
  sender: string;
  recipients: readonly string[];
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string };
  body: Buffer;
  /** Per-command reply timeouts (RFC 5321 §4.5.3.2); the defaults are the RFC's. */
  replyTimeouts?: ReplyTimeouts;
  /**
   * A connection kept from an earlier transaction to the same address: MAIL at once when that
   * transaction ended with the reply to its final dot, RSET first otherwise.
   */
  reuse?: SmtpChannel;
  /** Keep the connection open afterwards when it is still healthy (returned as `channel`). */
  keepOpen?: boolean;
  /**
   * Runs after the body is handed over and before the final dot; the dot waits for it. A rejection
   * withholds the dot: the transaction ends unsent (local 451 4.3.0) and the connection is closed.
   */
  beforeFinalDot?: (recipients: readonly string[]) => Promise<void>;
}

export interface RecipientEvent {
  address: string;
  event: DeliveryEvent;
}

export interface SmtpTransactionResult {
  /** The server greeted us: an SMTP session took place (counts toward the per-attempt session limit). */
  greeted: boolean;
  tls: boolean;
  /** What TLS the session had: offered, established, protocol, whether the certificate verified. */
  tlsInfo: TlsSessionInfo;
  /** One event per recipient: the reply or failure that decided it in this session. */
  recipients: RecipientEvent[];
  transcript: TranscriptLine[];
  durationMs: number;
  /** The still-open connection, when `keepOpen` was asked and it is healthy. */
  channel?: SmtpChannel;
}

/**
 * One SMTP transaction to one address with nodemailer's client: connect, EHLO (HELO fallback),
 * STARTTLS when offered, MAIL, RCPT per recipient, DATA. Never throws: every way it can end is an
 * event per recipient, ready for classification.
 */
export async function runSmtpTransaction(options: SmtpTransactionOptions): Promise<SmtpTransactionResult> {
  const started = Date.now();
  const transcript = new TranscriptRecorder();
  const watchdog = createReplyWatchdog(options.replyTimeouts ?? RFC5321_REPLY_TIMEOUTS, (what, ms) => {
    transcript.note(`no reply to ${what} within ${ms} ms (RFC 5321 §4.5.3.2): closing`);
    // Fails the step in progress as a timeout (each step listens for 'error'), then hangs up.
    channel?.connection.emit(
      'error',
      Object.assign(new Error(`no reply to ${what} within ${ms} ms`), { code: 'ETIMEDOUT' }),
    );
    channel?.close();
  });
  transcript.onExchange = (direction, text) => watchdog.exchange(direction, text);
  let channel: SmtpChannel | undefined;
  let greeted = false;
  let keep = false;
  const finish = (recipients: RecipientEvent[]): SmtpTransactionResult => {
    watchdog.stop();
    transcript.onExchange = undefined;
    const usable = keep && channel?.open === true && !recipients.some(({ event }) => endsSession(event));
    if (!usable) channel?.close();
    return {
      greeted,
      tls: channel?.secure ?? false,
      tlsInfo: channel?.tlsSession ?? { offered: false, established: false },
      recipients,
      transcript: transcript.lines,
      durationMs: Date.now() - started,
      ...(usable && channel && { channel }),
    };
  };
  const everyone = (event: DeliveryEvent) => options.recipients.map((address) => ({ address, event }));
  // A 220 banner arrived (a 421/554 banner refuses the session and does not count).
  const sawGreeting = () =>
    transcript.lines.some((line) => line.direction === 'S' && line.text.startsWith('220'));

  // A kept connection whose last transaction ended cleanly carries the next MAIL at once (as
  // nodemailer's own pool does); otherwise RSET first. Either way, a connection the server has
  // dropped meanwhile is replaced by a new one.
  let reusedWithoutReset: { linesBefore: number } | undefined;
  if (options.reuse?.open) {
    channel = options.reuse;
    channel.recorder = transcript;
    transcript.note(`reusing the connection to ${options.mxHost} [${options.address}]:${options.port}`);
    if (channel.readyForMail) {
      reusedWithoutReset = { linesBefore: transcript.lines.length };
      greeted = true;
    } else {
      try {
        await channel.reset();
        greeted = true;
      } catch {
        transcript.note('the kept connection is gone; connecting again');
        channel.close();
        channel = undefined;
      }
    }
  } else options.reuse?.close();

  if (!channel) {
    transcript.note(`connecting to ${options.mxHost} [${options.address}]:${options.port}`);
    const fresh = new SmtpChannel(options, transcript);
    channel = fresh;
    try {
      await fresh.step<void>((done) => fresh.connection.connect((error) => done(error)));
      greeted = true;
      fresh.extensions = ehloExtensions(transcript.lines);
      fresh.tlsSession = fresh.tlsInfo(offersStarttls(transcript.lines));
      if (fresh.tlsSession.established) transcript.note(describeTls(fresh.tlsSession));
      if (options.auth) {
        const auth = options.auth;
        await fresh.step<void>((done) =>
          fresh.connection.login({ user: auth.user, pass: auth.pass }, (error) => done(error)),
        );
      }
    } catch (error) {
      greeted = false;
      const failure = error as NodemailerSmtpError;
      const stage = stageFromTranscript(transcript.lines);
      fresh.tlsSession = {
        ...fresh.tlsInfo(offersStarttls(transcript.lines)),
        ...(stage === 'starttls' && {
          error: tlsErrorOf(failure),
          ...(CERTIFICATE_ERROR.test(tlsErrorOf(failure)) && { verified: false }),
        }),
      };
      if (stage === 'starttls') transcript.note(`TLS failed: ${tlsErrorOf(failure)}`);
      return finish(
        everyone(
          eventOfError(failure, {
            greeted: sawGreeting(),
            bodySent: false,
            stage,
            tlsRequired: options.tls === 'verified',
          }),
        ),
      );
    }
  }
  const connection = channel.connection;
  keep = options.keepOpen ?? false;

  // RFC 6531 §3.4: an internationalized address needs a server that offers SMTPUTF8; there is no
  // downgrade, so without it the message cannot be delivered there (5.6.7).
  const needsSmtpUtf8 = /[^\x00-\x7f]/.test([options.sender, ...options.recipients].join(''));
  if (needsSmtpUtf8 && !channel.extensions.includes('SMTPUTF8')) {
    return finish(
      everyone({
        kind: 'reply',
        stage: 'mail',
        reply: { code: 553, enhanced: '5.6.7', text: '(local) the receiving server does not offer SMTPUTF8' },
      }),
    );
  }

  channel.transactions++;
  channel.readyForMail = false;
  let withheld: Error | undefined;
  const hook = options.beforeFinalDot;
  const message = hook
    ? bodyWithGatedDot(
        options.body,
        async () => {
          try {
            await hook(options.recipients);
          } catch (error) {
            withheld = error instanceof Error ? error : new Error(String(error));
            transcript.note(`final dot withheld: ${withheld.message}`);
            throw withheld;
          }
        },
        () => channel.batchWritesThisTurn(),
      )
    : options.body;
  try {
    const info = await channel.step<SMTPConnection.SentMessageInfo>((done) =>
      connection.send(
        {
          from: options.sender === '' ? false : options.sender,
          to: [...options.recipients],
          size: options.body.length,
          // BODY=8BITMIME (RFC 6152) when the message has 8-bit bytes and the server offers it.
          // (isAscii is native; a per-byte callback cost 1.5% of a worker's CPU on 2 KB messages.)
          use8BitMime: !isAscii(options.body),
          ...(options.dsn && (options.dsn.ret || options.dsn.envid) && { dsn: options.dsn }),
        } as SMTPConnection.Envelope,
        message,
        (error, result) => done(error, result),
      ),
    );
    channel.readyForMail = true;
    return finish(recipientEventsOfSuccess(options.recipients, info, options.lmtp ?? false));
  } catch (error) {
    if (withheld) {
      // Mid-DATA without a dot: the session cannot go on.
      keep = false;
      return finish(
        everyone({
          kind: 'reply',
          stage: 'data',
          reply: { code: 451, enhanced: '4.3.0', text: `(local) final dot withheld: ${withheld.message}` },
        }),
      );
    }
    const failure = error as NodemailerSmtpError;
    // Recipients refused at RCPT keep their own replies even when the transaction failed later.
    const refused = new Map<string, DeliveryEvent>();
    for (const rejected of failure.rejectedErrors ?? envelopeRefusals(connection, failure)) {
      const reply = rejected.response ? parseSmtpReply(rejected.response) : undefined;
      if (rejected.recipient && reply)
        refused.set(rejected.recipient, { kind: 'reply', stage: 'rcpt', reply });
    }
    const sessionEvent = eventOfError(failure, {
      greeted: true,
      bodySent: transcript.bodySent,
      stage: stageFromTranscript(transcript.lines),
    });
    if (
      reusedWithoutReset &&
      keptConnectionWasGone(transcript, reusedWithoutReset.linesBefore, sessionEvent)
    ) {
      // Nothing of this transaction was accepted: the server had closed the kept connection while
      // it waited in the pool (its idle timeout, a restart). Not the message's failure: run it
      // again on a new connection, once (the new call has no connection to reuse).
      transcript.note('the kept connection is gone; connecting again');
      keep = false;
      finish([]);
      const { reuse: _gone, ...withoutReuse } = options;
      const rerunAt = Date.now();
      const fresh = await runSmtpTransaction(withoutReuse);
      return {
        ...fresh,
        // The new transcript's times count from the rerun: shift them onto this one's clock.
        transcript: [
          ...transcript.lines,
          ...fresh.transcript.map((line) => ({ ...line, at: line.at + (rerunAt - started) })),
        ],
        durationMs: Date.now() - started,
      };
    }
    return finish(
      options.recipients.map((address) => ({ address, event: refused.get(address) ?? sessionEvent })),
    );
  }
}

/**
 * A transaction on a kept connection (sent without RSET) found the connection closed before the
 * server accepted any of it: the connection lost or a 421, and no other reply since the reuse (so
 * no 354 either, and the body never went out). A server that is there but silent (a timeout) is
 * not a closed connection: that is the attempt's own failure.
 */
function keptConnectionWasGone(
  transcript: TranscriptRecorder,
  linesBefore: number,
  event: DeliveryEvent,
): boolean {
  if (transcript.bodySent) return false;
  const closed =
    (event.kind === 'network' && event.failure === 'reset') ||
    (event.kind === 'reply' && event.reply.code === 421);
  if (!closed) return false;
  return transcript.lines
    .slice(linesBefore)
    .every((line) => line.direction !== 'S' || line.text.startsWith('421'));
}

/**
 * The RCPT refusals of a transaction whose DATA command was refused after MAIL succeeded.
 * nodemailer's error for it ("Data command failed") leaves them out; its envelope (private, set
 * anew by each send) still has them. Without them those recipients would take the DATA reply
 * instead of their own. Any other failure keeps the refusals its error carries, or none.
 */
function envelopeRefusals(connection: SMTPConnection, failure: NodemailerSmtpError): NodemailerSmtpError[] {
  if (failure.command !== 'DATA') return [];
  const envelope = (
    connection as unknown as {
      _envelope?: { mailError?: unknown; rejectedErrors?: NodemailerSmtpError[] };
    }
  )._envelope;
  if (!envelope || envelope.mailError || !Array.isArray(envelope.rejectedErrors)) return [];
  return envelope.rejectedErrors.filter((rejected) => rejected.command === 'RCPT TO');
}

/** After these the connection is not worth keeping: the server closed it, or will. */
function endsSession(event: DeliveryEvent): boolean {
  return event.kind === 'network' || (event.kind === 'reply' && event.reply.code === 421);
}

/**
 * LMTP answers the final dot once per recipient (RFC 2033 §4.2); nodemailer keeps the failures
 * (rejectedErrors) and only the last reply's text. A recipient it kept as accepted had a 2xx reply
 * of its own, even when the last reply (another recipient's) was a failure.
 */
const LMTP_ACCEPTED: SmtpReply = { code: 250, text: 'accepted (its own LMTP reply; the text is not kept)' };

function recipientEventsOfSuccess(
  recipients: readonly string[],
  info: SMTPConnection.SentMessageInfo,
  lmtp: boolean,
): RecipientEvent[] {
  const lastReply = parseSmtpReply(info.response) ?? { code: 250, text: info.response };
  const finalReply = lmtp && (lastReply.code < 200 || lastReply.code > 299) ? LMTP_ACCEPTED : lastReply;
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

/** STARTTLS was in an EHLO reply (RFC 3207 §4: the keyword the server lists). */
function offersStarttls(lines: readonly TranscriptLine[]): boolean {
  return lines.some((line) => line.direction === 'S' && /^250[ -]STARTTLS\b/i.test(line.text));
}

/** Node's and OpenSSL's certificate verification errors (CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID ...). */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(?:GET|VERIFY)|certificate/i;

/** "TLSv1.3, certificate verified" / "TLSv1.3, certificate not verified (CODE)". */
function describeTls(tls: TlsSessionInfo): string {
  const check = tls.verified
    ? 'certificate verified'
    : `certificate not verified (${tls.error ?? 'unknown'})`;
  return `${tls.protocol ?? 'TLS'}, ${check}`;
}

/** A TLS failure in words: the OpenSSL/Node code (e.g. CERT_HAS_EXPIRED) and the message. */
function tlsErrorOf(error: NodemailerSmtpError): string {
  return error.originalCode ? `${error.originalCode}: ${error.message}` : error.message;
}

/** The extension keywords of the server's EHLO reply, as recorded in the transcript. */
function ehloExtensions(lines: readonly TranscriptLine[]): string[] {
  return lines
    .filter((line) => line.direction === 'S' && /^250[ -]/.test(line.text))
    .map((line) => line.text.slice(4).split(/\s/)[0]!.toUpperCase());
}
