/**
 * A light SMTP load generator: N plain-text connections (no STARTTLS), each sending its share of the
 * messages one after the other. Per message it pipelines MAIL FROM + RCPT TO... + DATA in one write
 * (RFC 2920), waits for the 354, then sends the dot-stuffed message and the final dot in one write and
 * times the wait for the reply to that dot: the accept latency.
 *
 * Every message is built before the clock starts, so the generator spends its CPU on the sockets only
 * (the machine is shared with ingest and Redis). Run as a script it is the benchmark's own child
 * process: options as JSON in argv[2], the result as one JSON line on stdout.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { type Latency, latencyOf } from './stats.ts';

export const RECIPIENT_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example'] as const;
export const SENDER = 'bench@bench.outpost.test';

export interface BenchMessage {
  /** "MAIL FROM:<...>\r\nRCPT TO:<...>\r\n...DATA\r\n", sent as one pipelined group. */
  envelope: Buffer;
  recipients: number;
  /** Distinct recipient domains: the delivery jobs ingest should create for this message. */
  domains: number;
  /** The message dot-stuffed, followed by the terminating ".\r\n". */
  data: Buffer;
  /** Size of the message as submitted, before dot-stuffing. */
  size: number;
}

/** A small deterministic PRNG (mulberry32), so every run submits exactly the same messages. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** RFC 5321 §4.5.2: a line that starts with "." gets one more. `text` uses CRLF line ends. */
export function dotStuff(text: string): string {
  return text.replace(/(^|\r\n)\./g, '$1..');
}

/** Data to send after the 354: the stuffed message (CRLF-terminated) and the lone dot. */
export function dataSection(message: string): string {
  const stuffed = dotStuff(message);
  return `${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`;
}

const FILLER = 'The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ';

/** The 1-3 recipients of message `index`, drawn from a few domains (deterministic per index). */
export function workloadRecipients(index: number): string[] {
  return messageText(index, 0).recipients;
}

/**
 * Message `index` of the workload as text (CRLF line ends, not dot-stuffed): its 1-3 recipients drawn
 * from a few domains, and `size` bytes exactly (headers a mail client would send, then 72-column text;
 * every 7th line starts with a dot). The HTTP load generator sends the same messages.
 */
export function messageText(index: number, size: number): { recipients: string[]; message: string } {
  const next = random(index + 1);
  const count = 1 + Math.floor(next() * 3);
  const recipients: string[] = [];
  for (let i = 0; i < count; i++) {
    const domain = RECIPIENT_DOMAINS[Math.floor(next() * RECIPIENT_DOMAINS.length)]!;
    const address = `user${Math.floor(next() * 10_000)}.${i}@${domain}`;
    recipients.push(address);
  }
  const headers =
    `From: Outpost Bench <${SENDER}>\r\n` +
    `To: ${recipients.map((address) => `<${address}>`).join(', ')}\r\n` +
    `Subject: Outpost ingest benchmark, message ${index}\r\n` +
    'Date: Thu, 27 Nov 2025 12:00:00 +0000\r\n' +
    `Message-ID: <bench.${index}@bench.outpost.test>\r\n` +
    'MIME-Version: 1.0\r\n' +
    'Content-Type: text/plain; charset=us-ascii\r\n' +
    '\r\n';
  return { recipients, message: headers + fillerLines(index, size - headers.length).join('') };
}

/** CRLF-terminated lines of at most 72 characters, `bytes` in all; every 7th starts with a dot. */
export function fillerLines(index: number, bytes: number): string[] {
  const lines: string[] = [];
  let remaining = bytes;
  for (let line = 0; remaining > 0; line++) {
    let length = Math.min(72, remaining - 2);
    if (remaining - (length + 2) === 1) length -= 1; // never leave a single byte over
    const offset = (index + line * 7) % FILLER.length;
    let text = (FILLER + FILLER).slice(offset, offset + Math.max(length, 0));
    if (line % 7 === 3 && text.length > 0) text = `.${text.slice(1)}`;
    lines.push(`${text}\r\n`);
    remaining -= text.length + 2;
  }
  return lines;
}

/** Message `index` of the workload, ready for the wire: envelope commands and the data section. */
export function buildMessage(index: number, size: number): BenchMessage {
  const { recipients, message } = messageText(index, size);
  const envelope = `MAIL FROM:<${SENDER}> BODY=7BIT SIZE=${message.length}\r\n${recipients
    .map((address) => `RCPT TO:<${address}>\r\n`)
    .join('')}DATA\r\n`;
  return {
    envelope: Buffer.from(envelope, 'latin1'),
    recipients: recipients.length,
    domains: new Set(recipients.map((address) => address.slice(address.indexOf('@') + 1))).size,
    data: Buffer.from(dataSection(message), 'latin1'),
    size: message.length,
  };
}

export interface Reply {
  code: number;
  /** The whole reply, all lines, without the final CRLF. */
  text: string;
}

/** One SMTP connection that collects replies as they come; `replies(n)` waits for the next n. */
export class SmtpPipe {
  readonly socket: Socket;
  #buffer = '';
  #ready: Reply[] = [];
  #waiter: { count: number; resolve: (replies: Reply[]) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;

  private constructor(socket: Socket, idleTimeoutMs: number) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.setTimeout(idleTimeoutMs);
    socket.on('data', (chunk: string) => this.#receive(chunk));
    socket.on('timeout', () => this.#fail(new Error(`no reply within ${idleTimeoutMs} ms`)));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('connection closed by the server')));
  }

  static connect(host: string, port: number, idleTimeoutMs = 30_000): Promise<SmtpPipe> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new SmtpPipe(socket, idleTimeoutMs));
      });
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  replies(count: number): Promise<Reply[]> {
    if (this.#ready.length >= count) return Promise.resolve(this.#ready.splice(0, count));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiter = { count, resolve, reject };
    });
  }

  async reply(): Promise<Reply> {
    const [reply] = await this.replies(1);
    return reply!;
  }

  close(): void {
    this.socket.destroy();
  }

  #receive(chunk: string): void {
    const buffer = this.#buffer + chunk;
    let replyStart = 0;
    let lineStart = 0;
    for (;;) {
      const end = buffer.indexOf('\r\n', lineStart);
      if (end === -1) break;
      // "250-..." continues the reply; "250 ..." (or a short line) ends it.
      if (end - lineStart < 4 || buffer.charCodeAt(lineStart + 3) !== 45) {
        this.#ready.push({
          code: Number.parseInt(buffer.slice(lineStart, lineStart + 3), 10),
          text: buffer.slice(replyStart, end),
        });
        replyStart = end + 2;
      }
      lineStart = end + 2;
    }
    this.#buffer = buffer.slice(replyStart);
    const waiter = this.#waiter;
    if (waiter && this.#ready.length >= waiter.count) {
      this.#waiter = undefined;
      waiter.resolve(this.#ready.splice(0, waiter.count));
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#failure);
    this.socket.destroy();
  }
}

export interface LoadOptions {
  host: string;
  port: number;
  messages: number;
  connections: number;
  /** Bytes per message as submitted. */
  messageSize: number;
  /** A reply slower than this fails the connection's remaining messages. */
  idleTimeoutMs?: number;
}

export interface LoadHooks {
  /** Called when every connection is set up and the clock starts. */
  onStart?: () => void;
}

export interface LoadResult {
  messages: number;
  accepted: number;
  failed: number;
  /** First line of each refusal or error -> how often. */
  failures: Record<string, number>;
  recipients: number;
  /** Delivery jobs the accepted messages should have created (one per distinct domain). */
  expectedDeliveryJobs: number;
  /** From the moment every connection had its EHLO answered to the last reply to a final dot. */
  elapsedMs: number;
  acceptedPerSecond: number;
  /** From writing the final dot to reading the reply to it. */
  latencyMs: Latency;
  /** Time to connect all connections and get their greetings and EHLO replies. */
  setupMs: number;
  cpuMs: { user: number; system: number };
  /** HTTP only: the mean request body size in bytes. */
  requestBytes?: number;
}

const EHLO_NAME = 'loadgen.bench.outpost.test';

/** Runs the workload against an SMTP server; never throws for refusals, only counts them. */
export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  const { messages, connections } = options;
  const workload = Array.from({ length: messages }, (_, index) => buildMessage(index, options.messageSize));
  const latencies = new Float64Array(messages).fill(Number.NaN);
  const failures: Record<string, number> = {};
  const fail = (reason: string) => {
    const key = reason.split('\r\n')[0]!.slice(0, 160);
    failures[key] = (failures[key] ?? 0) + 1;
  };
  let accepted = 0;
  let expectedDeliveryJobs = 0;
  let lastReply = 0;

  const cpuBefore = process.cpuUsage();
  const setupStart = performance.now();
  const pipes = await Promise.all(
    Array.from({ length: connections }, async () => {
      const pipe = await SmtpPipe.connect(options.host, options.port, options.idleTimeoutMs);
      const greeting = await pipe.reply();
      if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
      pipe.write(`EHLO ${EHLO_NAME}\r\n`);
      const ehlo = await pipe.reply();
      if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.text}`);
      if (!/^250[- ]PIPELINING$/im.test(ehlo.text)) throw new Error(`no PIPELINING in ${ehlo.text}`);
      return pipe;
    }),
  );
  const start = performance.now();
  hooks.onStart?.();

  const session = async (pipe: SmtpPipe, first: number) => {
    let index = first;
    try {
      for (; index < messages; index += connections) {
        const message = workload[index]!;
        pipe.write(message.envelope);
        const replies = await pipe.replies(message.recipients + 2);
        const dataReply = replies.at(-1)!;
        const refusal = replies.slice(0, -1).find((reply) => reply.code !== 250);
        if (dataReply.code !== 354) {
          fail(refusal?.text ?? dataReply.text);
          pipe.write('RSET\r\n');
          await pipe.reply();
          continue;
        }
        const sent = performance.now();
        pipe.write(message.data);
        const final = await pipe.reply();
        const now = performance.now();
        latencies[index] = now - sent;
        lastReply = Math.max(lastReply, now);
        if (refusal) fail(refusal.text);
        else if (final.code !== 250) fail(final.text);
        else {
          accepted++;
          expectedDeliveryJobs += message.domains;
        }
      }
      pipe.write('QUIT\r\n');
      await pipe.reply().catch(() => undefined);
    } catch (error) {
      const reason = `connection error: ${(error as Error).message}`;
      for (; index < messages; index += connections) fail(reason);
    } finally {
      pipe.close();
    }
  };
  await Promise.all(pipes.map((pipe, connection) => session(pipe, connection)));
  const cpu = process.cpuUsage(cpuBefore);

  const measured = Array.from(latencies.filter((value) => !Number.isNaN(value))).sort((a, b) => a - b);
  const elapsedMs = (lastReply || performance.now()) - start;
  const failed = messages - accepted;
  return {
    messages,
    accepted,
    failed,
    failures,
    recipients: workload.reduce((sum, message) => sum + message.recipients, 0),
    expectedDeliveryJobs,
    elapsedMs,
    acceptedPerSecond: accepted / (elapsedMs / 1000),
    latencyMs: latencyOf(measured),
    setupMs: start - setupStart,
    cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
  };
}

// As the benchmark's child process: options in, "STARTED {}" when the clock starts, then
// "RESULT {...}"; exits with its parent.
if (import.meta.main) {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.resume();
  try {
    const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
    const result = await runLoad(options, { onStart: () => process.stdout.write('STARTED {}\n') });
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
  } catch (error) {
    process.stderr.write(`load generator failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
