import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { INGEST_REPLIES, type SmtpReply } from '@outpost/core';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

/*
 * The one place where Outpost reaches into smtp-server (3.21.x) internals; everything else uses its
 * public handler API. smtp-server takes a bare LF as the end of a command line, shows handlers only
 * its own reading of a command, and has no limit on a session's total length. Three small
 * subclasses add exactly that:
 *
 * - StrictSmtpStream (the line parser): a command line ending in a bare LF ends the session
 *   (RFC 5321 §2.3.8).
 * - StrictSmtpConnection: uses StrictSmtpStream (after STARTTLS too) and shows every command line,
 *   as received, to `screenCommand` before smtp-server parses it; a reply from the screen answers
 *   the command instead. It also carries the session deadline, sends the replies of one
 *   event-loop turn in one write (send), and leaves AUTH out of the EHLO reply before TLS.
 * - StrictSmtpServer: creates StrictSmtpConnections (mirroring SMTPServer.connect).
 *
 * When upgrading smtp-server, compare SMTPServer.connect, SMTPConnection._createParser, _onCommand,
 * _onClose, handler_EHLO (its features list) and SMTPStream._write with the overrides below; the
 * smtp-smuggling and smtp-limits integration tests exercise every one of them.
 */

/**
 * Judges a command line before smtp-server does: a reply refuses it, undefined lets it through.
 * `authContinuation` is true for the lines of an AUTH exchange after a 334.
 */
export type CommandScreen = (
  line: Buffer,
  session: SMTPServerSession,
  authContinuation: boolean,
) => SmtpReply | undefined;

export interface StrictSmtpServerOptions extends SMTPServerOptions {
  screenCommand: CommandScreen;
  /** A session still open after this long is ended with 421 at the next safe moment. */
  sessionTimeoutMs: number;
}

const CR = 0x0d;
const LF = 0x0a;

class BareLineFeedError extends Error {
  constructor() {
    super('bare LF in a command line');
  }
}

class StrictSmtpStream extends SMTPStream {
  /** The byte before the next command-mode byte: DATA always ends in CRLF . CRLF, so LF at first. */
  #previousByte = LF;

  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (error?: Error | null) => void) {
    if (this._dataMode || this.isClosed || chunk.length === 0) {
      if (this._dataMode) this.#previousByte = LF;
      super._write(chunk, encoding, next);
      return;
    }
    // Lines the parser will read as commands; any message bytes a client sent before our 354
    // (RFC 2920 §3.1 forbids it) are judged as command lines too.
    if (hasBareLineFeed(chunk, this.#previousByte)) {
      this._remainder = '';
      next(new BareLineFeedError());
      return;
    }
    this.#previousByte = chunk[chunk.length - 1]!;
    super._write(chunk, encoding, next);
  }
}

function hasBareLineFeed(chunk: Buffer, previousByte: number): boolean {
  for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, lf + 1)) {
    if ((lf === 0 ? previousByte : chunk[lf - 1]) !== CR) return true;
  }
  return false;
}

function sendReply(connection: SMTPConnection, reply: SmtpReply): void {
  // The listener hides smtp-server's own enhanced codes; ours travel in the text.
  connection.send(reply.code, `${reply.enhanced} ${reply.text}`);
}

/** How often an expired session re-checks whether it may be ended. */
const DEADLINE_RECHECK_MS = 1_000;

class StrictSmtpConnection extends SMTPConnection {
  #deadline: NodeJS.Timeout | undefined;

  /**
   * Replies written in the same turn of the event loop leave in one write: a pipelined batch
   * (RFC 2920: MAIL, RCPT ..., DATA) gets its replies in one system call instead of one each. The
   * socket is uncorked once the turn's callbacks and promises have run (setImmediate), before any
   * timer; `end()` (smtp-server's close) flushes a corked socket at once.
   */
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const socket = this._socket;
    if (!socket.writableCorked && !socket.destroyed) {
      socket.cork();
      setImmediate(() => socket.uncork());
    }
    super.send(code, this.#withoutClearTextAuth(data), context);
  }

  /**
   * The EHLO reply (the only multi-line one that lists AUTH) names no AUTH mechanism before TLS
   * when credentials may not cross in clear text: smtp-server refuses such an AUTH with 538 but
   * still advertises it, and a client that trusts the list sends its password before the refusal
   * (RFC 4954 §4, RFC 3207 §4.2).
   */
  #withoutClearTextAuth(data: string | string[] | null | undefined) {
    if (!Array.isArray(data) || this.secure || this._server.options.allowInsecureAuth) return data;
    return data.filter((line, index) => index === 0 || !/^AUTH /i.test(line));
  }

  override _createParser(): SMTPStream {
    const parser = new StrictSmtpStream({ maxCommandLength: this._server.options.maxCommandLength });
    parser.oncommand = (command, callback) => this._onCommand(command, callback);
    parser.on('error', (error) => {
      // The parser is unusable after an error, so the session ends either way.
      sendReply(
        this,
        error instanceof BareLineFeedError
          ? INGEST_REPLIES.bareLineFeedCommand
          : INGEST_REPLIES.commandTooLong,
      );
      this.close();
    });
    return parser;
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const server = this._server as StrictSmtpServer;
    // Lines smtp-server discards or refuses before reading them (during a TLS handshake, before the
    // greeting, while shutting down) keep their own handling.
    if (this._upgrading || !this._ready || this._closing || server._closeTimeout) {
      super._onCommand(command, callback);
      return;
    }
    const reply = server.screenCommand(command, this.session, this._nextHandler !== false);
    if (reply === undefined) {
      super._onCommand(command, callback);
      return;
    }
    // A refused line inside an AUTH exchange ends that exchange.
    this._nextHandler = false;
    sendReply(this, reply);
    this._whenWritable(() => callback?.());
  }

  armSessionDeadline(timeoutMs: number): void {
    this.#deadline = setTimeout(() => this.#expire(), timeoutMs).unref();
  }

  override _onClose(): void {
    clearTimeout(this.#deadline);
    super._onClose();
  }

  #expire(): void {
    if (this._closing || this._closed) return;
    // Not while we owe the client a decision (a handler is running, or the message is in and being
    // stored): a 421 then could contradict a 250 for a message that is already queued.
    if (this._handlerPending || (this._dataStream && this._parser && !this._parser._dataMode)) {
      this.#deadline = setTimeout(() => this.#expire(), DEADLINE_RECHECK_MS).unref();
      return;
    }
    sendReply(this, INGEST_REPLIES.sessionExpired); // a 421: smtp-server closes the connection
  }
}

/** An SMTPServer whose sessions are StrictSmtpConnections; see the notes at the top of this file. */
export class StrictSmtpServer extends SMTPServer {
  readonly screenCommand: CommandScreen;
  readonly sessionTimeoutMs: number;

  constructor(options: StrictSmtpServerOptions) {
    super(options);
    this.screenCommand = options.screenCommand;
    this.sessionTimeoutMs = options.sessionTimeoutMs;
  }

  /** SMTPServer.connect, with our connection class. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new StrictSmtpConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (error: Error) => this._onError(error));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
    connection.armSessionDeadline(this.sessionTimeoutMs);
  }
}
