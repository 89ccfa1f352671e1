import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { TranscriptRecorder } from './transcript.ts';

export interface ChannelOptions {
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
      opportunisticTLS: true,
      // Opportunistic TLS (RFC 3207 §4 / RFC 7672 "may"): encrypt whatever the certificate; MTA-STS
      // and DANE are what make verification mandatory.
      tls: { servername: options.mxHost, rejectUnauthorized: false },
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
