import { writeFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { loadConfig } from '@outpost/config';
import { createLogger } from '@outpost/telemetry';
import type { TestRedis } from '@outpost/testing';
import { hashPassword, type Ingest, startIngest } from '../src/index.ts';
import { TEST_HOSTNAME } from './helpers.ts';

/**
 * A line-level SMTP client for scripted sessions that a well-behaved client would never have
 * (pipelined floods, malformed line endings, STARTTLS over a socket we keep control of). Unlike
 * RawSmtpClient it can switch to TLS mid-session and keeps replies as a list of lines, so reading
 * ten thousand replies stays cheap.
 */
export class SmtpSession {
  #socket: Socket | TLSSocket;
  #lines: string[] = [];
  #next = 0;
  #partial = '';
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #onData = (text: string) => this.#receive(text);
  readonly #onClose = () => {
    this.#closed = true;
    this.#wake?.();
  };

  private constructor(socket: Socket | TLSSocket) {
    this.#socket = socket;
    this.#listen(socket);
  }

  /** Opens a session (plain, or implicit TLS); the greeting is left for the caller to read. */
  static async open(
    port: number,
    options: { localAddress?: string; implicitTls?: boolean } = {},
  ): Promise<SmtpSession> {
    const common = {
      host: '127.0.0.1',
      port,
      ...(options.localAddress && { localAddress: options.localAddress }),
    };
    const socket = options.implicitTls
      ? connectTls({ ...common, rejectUnauthorized: false })
      : connectTcp(common);
    await new Promise<void>((resolve, reject) => {
      socket.once(options.implicitTls ? 'secureConnect' : 'connect', resolve);
      socket.once('error', reject);
    });
    return new SmtpSession(socket);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Complete reply lines received and not read yet. */
  get unreadLines(): string[] {
    return this.#lines.slice(this.#next);
  }

  write(data: string | Buffer): void {
    this.#socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Writes, waiting for the socket to drain: for streaming large amounts without buffering them. */
  async writeDrained(data: Buffer): Promise<void> {
    if (this.#closed) throw new Error('connection closed');
    if (!this.#socket.write(data)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.once('drain', done);
        this.#socket.once('close', done);
      });
    }
  }

  async command(line: string, timeoutMs = 5_000): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply(timeoutMs);
  }

  /** The next complete reply, multi-line replies joined with CRLF. */
  async reply(timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.#takeReply();
      if (reply !== undefined) return reply;
      if (this.#closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.#partial)}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no reply within ${timeoutMs} ms`);
      await this.#waitForData(remaining);
    }
  }

  async replies(count: number, timeoutMs = 10_000): Promise<string[]> {
    const replies: string[] = [];
    for (let i = 0; i < count; i++) replies.push(await this.reply(timeoutMs));
    return replies;
  }

  /** Resolves once the server has closed the connection; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`still open after ${timeoutMs} ms`);
      await this.#waitForData(remaining);
    }
  }

  /** Sends STARTTLS, expects 220, and continues over TLS on the same TCP connection. */
  async startTls(): Promise<void> {
    const reply = await this.command('STARTTLS');
    if (!reply.startsWith('220')) throw new Error(`STARTTLS refused: ${reply}`);
    await this.upgrade();
  }

  /** Continues over TLS on the same TCP connection (after a 220 to STARTTLS was read). */
  async upgrade(): Promise<void> {
    const plain = this.#socket;
    plain.off('data', this.#onData);
    plain.off('close', this.#onClose);
    const secure = connectTls({ socket: plain as Socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#listen(secure);
  }

  /** Half-closes our side: we send nothing more. */
  end(): void {
    this.#socket.end();
  }

  close(): void {
    this.#socket.destroy();
  }

  #listen(socket: Socket | TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', () => {});
  }

  #receive(text: string): void {
    const parts = (this.#partial + text).split('\r\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) this.#lines.push(line);
    this.#wake?.();
  }

  #takeReply(): string | undefined {
    for (let end = this.#next; end < this.#lines.length; end++) {
      const line = this.#lines[end]!;
      if (line.length < 4 || line[3] !== '-') {
        const reply = this.#lines.slice(this.#next, end + 1).join('\r\n');
        this.#next = end + 1;
        if (this.#next > 1_000) {
          this.#lines = this.#lines.slice(this.#next);
          this.#next = 0;
        }
        return reply;
      }
    }
    return undefined;
  }

  #waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** Opens a session, reads the greeting and says EHLO; returns the session and the EHLO reply. */
export async function greetedSession(
  port: number,
  options: { localAddress?: string; implicitTls?: boolean } = {},
): Promise<{ session: SmtpSession; ehlo: string }> {
  const session = await SmtpSession.open(port, options);
  const greeting = await session.reply();
  if (!greeting.startsWith('220')) throw new Error(`unexpected greeting: ${greeting}`);
  const ehlo = await session.command('EHLO client.test');
  return { session, ehlo };
}

/** Base64 of an RFC 4616 PLAIN token. */
export function plainToken(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/** Writes an OUTPOST_USERS_FILE with one user per entry, each allowed the listed senders. */
export async function writeUsersFile(
  dir: string,
  users: Array<{ name: string; password: string; senders: string }>,
): Promise<string> {
  const path = join(dir, 'users');
  const lines = await Promise.all(
    // A cheap scrypt cost: timing assertions must measure our throttling, not the hash.
    users.map(async (user) => `${user.name}:${await hashPassword(user.password, 10)}:${user.senders}`),
  );
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** Ingest in this process, like startTestIngest, with every log line kept in memory. */
export async function startLoggedIngest(
  redis: TestRedis,
  env: Record<string, string> = {},
): Promise<{ ingest: Ingest; logText: () => string }> {
  const config = loadConfig({
    OUTPOST_ENV: 'development',
    OUTPOST_HOSTNAME: TEST_HOSTNAME,
    REDIS_URL: redis.url,
    OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
    OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
    LOG_LEVEL: 'trace',
    ...env,
  });
  const lines: string[] = [];
  const logger = createLogger({
    service: 'ingest',
    level: config.logLevel,
    destination: { write: (line: string) => void lines.push(line) },
  });
  const ingest = await startIngest({ config, logger });
  return { ingest, logText: () => lines.join('') };
}
