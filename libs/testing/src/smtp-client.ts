import { connect, type Socket } from 'node:net';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';

export interface SubmitOptions {
  host?: string;
  port: number;
  /** Source address, e.g. 127.0.0.2, to appear as another client. */
  localAddress?: string;
  from: string | false;
  to: string[];
  message: string | Buffer;
  auth?: { user: string; pass: string };
  /** Implicit TLS (port 465 style). STARTTLS is used whenever offered otherwise. */
  secure?: boolean;
  ignoreTLS?: boolean;
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string; notify?: string[]; orcpt?: string };
}

export interface SubmitResult {
  response: string;
  accepted: string[];
  rejected: string[];
}

/** An SMTP error as nodemailer reports it: the reply code and full reply line. */
export interface SubmitError extends Error {
  responseCode?: number;
  response?: string;
  code?: string;
}

/** Submits one message with nodemailer's SMTP client; rejects with the server's reply on refusal. */
export async function submitMessage(options: SubmitOptions): Promise<SubmitResult> {
  const connection = new SMTPConnection({
    host: options.host ?? '127.0.0.1',
    port: options.port,
    ...(options.localAddress && { localAddress: options.localAddress }),
    secure: options.secure ?? false,
    ignoreTLS: options.ignoreTLS ?? false,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5_000,
    greetingTimeout: 5_000,
    socketTimeout: 15_000,
  });
  connection.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) =>
      connection.connect((error) => (error ? reject(error) : resolve())),
    );
    if (options.auth) {
      const auth = options.auth;
      await new Promise<void>((resolve, reject) =>
        connection.login({ user: auth.user, pass: auth.pass }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    }
    const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
      connection.send(
        {
          from: options.from,
          to: options.to,
          ...(options.dsn && { dsn: options.dsn }),
        } as SMTPConnection.Envelope,
        options.message,
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    );
    return {
      response: info.response,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
    };
  } finally {
    connection.close();
  }
}

/**
 * A line-level SMTP client on a raw socket, for sessions a well-behaved client would never have:
 * half-sent DATA, pipelined commands, malformed line endings.
 */
export class RawSmtpClient {
  readonly socket: Socket;
  #buffer = '';
  #waiters: Array<() => void> = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.#buffer += text;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawSmtpClient> {
    const socket = connect({ port, host, ...(localAddress && { localAddress }) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSmtpClient(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command line (CRLF added) and returns the complete reply. */
  async command(line: string, timeoutMs = 5_000): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** The next complete reply (all lines of a multi-line reply), or rejects on close/timeout. */
  async reply(timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = completeReplyLength(this.#buffer);
      if (end > 0) {
        const reply = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end);
        return reply.trimEnd();
      }
      if (this.#closed) throw new Error(`connection closed; pending: ${JSON.stringify(this.#buffer)}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`no reply within ${timeoutMs} ms; pending: ${JSON.stringify(this.#buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Length of the first complete reply in `buffer` ("250-...\r\n250 ...\r\n"), 0 when incomplete. */
function completeReplyLength(buffer: string): number {
  let offset = 0;
  for (;;) {
    const end = buffer.indexOf('\r\n', offset);
    if (end === -1) return 0;
    const line = buffer.slice(offset, end);
    offset = end + 2;
    if (line.length < 4 || line[3] !== '-') return offset;
  }
}
