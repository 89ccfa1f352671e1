import { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { checkDnsIdentity } from './tls-identity.ts';
import type { TranscriptRecorder } from './transcript.ts';

/**
 * - 'opportunistic': STARTTLS when offered, plaintext otherwise, any certificate (RFC 3207 §4);
 * - 'none': never (a host known TLS-broken);
 * - 'verified': STARTTLS required, with a certificate that chains to a trusted CA and names the MX
 *   host (an MTA-STS policy in enforce mode, RFC 8461 §4.2, §5); no plaintext fallback.
 */
export type TlsMode = 'opportunistic' | 'none' | 'verified';

/** What TLS a connection got; the certificate is judged in every mode, enforced only in 'verified'. */
export interface TlsSessionInfo {
  /** The server listed STARTTLS in its EHLO reply. */
  offered: boolean;
  /** The handshake completed: the session is encrypted. */
  established: boolean;
  /** e.g. 'TLSv1.3' */
  protocol?: string;
  /**
   * The certificate chains to a trusted CA and has a DNS-ID for the MX host (RFC 6125); false also
   * when verification was required and its failure ended the handshake.
   */
  verified?: boolean;
  /** Why the certificate did not verify, or why the handshake failed. */
  error?: string;
}

export interface ChannelOptions {
  /** The IP address to connect to. */
  address: string;
  port: number;
  /** The MX host name: TLS SNI, and for the record. */
  mxHost: string;
  heloName: string;
  sourceAddress?: string;
  tls: TlsMode;
  /**
   * The trust store certificates are verified against (Node's default CAs when absent); a context
   * built once with extra CAs (tests, private PKI) instead of a CA list parsed per connection.
   */
  secureContext?: SecureContext;
  lmtp?: boolean;
  timeouts: { connectMs: number; greetingMs: number; commandMs: number };
}

/**
 * One SMTP connection (nodemailer's SMTPConnection) that can carry several transactions: each
 * transaction records into its own transcript, so the logger forwards to whichever is current.
 */
export class SmtpChannel {
  readonly connection: SMTPConnection;
  readonly createdAt = Date.now();
  /** Extensions from the EHLO reply, kept for later transactions on the same connection. */
  extensions: string[] = [];
  transactions = 0;
  /**
   * The last transaction ended with the server's reply to its final dot, which clears the server's
   * transaction state (RFC 5321 §4.1.1.4: "on the completion of this command these buffers are
   * cleared"): the next MAIL may follow without RSET. False after a refused or broken transaction.
   */
  readyForMail = false;
  /** What TLS the connection got (set once connected, or when connecting failed). */
  tlsSession: TlsSessionInfo = { offered: false, established: false };
  #recorder: TranscriptRecorder;

  constructor(options: ChannelOptions, recorder: TranscriptRecorder) {
    this.#recorder = recorder;
    const forward =
      (level: 'info') =>
      (entry: unknown, message?: unknown, ...args: unknown[]) =>
        this.#recorder.logger[level](entry, message, ...args);
    const log = forward('info');
    this.connection = new SMTPConnection({
      host: options.address,
      port: options.port,
      name: options.heloName,
      ...(options.sourceAddress && { localAddress: options.sourceAddress }),
      secure: false,
      ignoreTLS: options.tls === 'none',
      opportunisticTLS: options.tls !== 'verified',
      requireTLS: options.tls === 'verified',
      // Opportunistic TLS (RFC 3207 §4 / RFC 7672 "may"): encrypt whatever the certificate; MTA-STS
      // is what makes verification mandatory. The certificate is still judged (with the same
      // trust store and name rule) so that every session's record says whether it verified.
      tls: {
        servername: options.mxHost,
        rejectUnauthorized: options.tls === 'verified',
        checkServerIdentity: checkDnsIdentity,
        ...(options.secureContext && { secureContext: options.secureContext }),
      },
      lmtp: options.lmtp ?? false,
      connectionTimeout: options.timeouts.connectMs,
      greetingTimeout: options.timeouts.greetingMs,
      socketTimeout: options.timeouts.commandMs,
      logger: {
        trace: log,
        debug: log,
        info: log,
        warn: log,
        error: log,
        fatal: log,
      } as unknown as SMTPConnection.Options['logger'],
      transactionLog: true,
    });
    this.connection.on('error', () => {});
  }

  set recorder(recorder: TranscriptRecorder) {
    this.#recorder = recorder;
  }

  get secure(): boolean {
    return this.connection.secure;
  }

  /**
   * Holds the socket's writes until the end of this turn of the event loop and then sends them
   * together (one writev): a message's body and the final dot nodemailer writes after it, which
   * would otherwise be two system calls and two segments. Nodemailer keeps its socket private, so
   * without one (its internals changed) the writes simply go out one by one.
   */
  batchWritesThisTurn(): void {
    const socket = (this.connection as unknown as { _socket?: unknown })._socket;
    if (!(socket instanceof Socket) || socket.destroyed) return;
    socket.cork();
    setImmediate(() => socket.uncork());
  }

  /** The TLS state of the connection now (nodemailer keeps its socket private; read defensively). */
  tlsInfo(offered: boolean): TlsSessionInfo {
    const socket = (this.connection as unknown as { _socket?: unknown })._socket;
    if (!this.connection.secure || !(socket instanceof TLSSocket)) return { offered, established: false };
    const protocol = socket.getProtocol();
    const error = socket.authorizationError;
    return {
      offered,
      established: true,
      ...(protocol && { protocol }),
      verified: socket.authorized,
      ...(error && { error: String(error) }),
    };
  }

  /** Still open and not closing (nodemailer keeps these private; read defensively). */
  get open(): boolean {
    const state = this.connection as unknown as { _destroyed?: boolean; _closing?: boolean };
    return !state._destroyed && !state._closing;
  }

  /** RSET before a new transaction on a kept connection (RFC 5321 §4.1.1.5). */
  reset(): Promise<void> {
    return this.step<void>((done) => this.connection.reset((error) => done(error)));
  }

  /**
   * One step of the dialogue as a promise. nodemailer reports some failures as 'error' events and
   * others through the callback; the listener is removed afterwards, since a kept connection
   * carries many steps.
   */
  step<T>(run: (done: (error?: Error | null, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onError = (error: Error) => settle(error);
      const settle = (error?: Error | null, value?: T) => {
        this.connection.off('error', onError);
        if (error) reject(error);
        else resolve(value as T);
      };
      this.connection.once('error', onError);
      run(settle);
    });
  }

  close(): void {
    this.connection.close();
  }
}
