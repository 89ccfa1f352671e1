/**
 * The project's own injector for the comparison's world, used where smtp-source is not installed and
 * for the paced latency workload (it labels every message with X-Bench-Seq, so the receivers can tell
 * when each one arrived). One connection per destination domain (50), message i to
 * user<i>@d<(i mod 50) + 1>.bench.test; per message MAIL + RCPT + DATA pipelined (RFC 2920), then
 * the dot-stuffed message. `rate` paces the whole load: message i is sent at start + i / rate.
 *
 * As the benchmark's child process: options as JSON in argv[2]; stdout "STARTED {}" when the clock
 * starts, then "RESULT {...}" (WorldLoadResult); exits when its stdin closes.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { DOMAIN_COUNT, domainName, SENDER } from './peers/zone.ts';
import { dataSection, fillerLines, SmtpPipe } from './smtp-load.ts';

export interface WorldLoadOptions {
  host: string;
  port: number;
  messages: number;
  size: number;
  /** Messages per second offered, over all connections; absent: as fast as the server answers. */
  rate?: number;
  /**
   * Before anything else, send this many messages labelled `warm-up` straight to the project's
   * receivers (one connection per host), so that neither the injector's nor the receivers' code is
   * still being compiled while the measured load runs: they are the instruments, not the system.
   * As a child process with `port` 0, it then says "WARM {}" and waits for "TARGET <port>" on stdin
   * (the system under test is started after the instruments are warm).
   */
  warmUp?: { hosts: readonly string[]; port: number; messages: number };
}

export interface WorldLoadResult {
  accepted: number;
  failed: number;
  failures: string[];
  /** Date.now() of the clock start, and per message of its 250 (NaN when refused). */
  startedAt: number;
  acceptedAt: number[];
  /** Date.now() when the last reply came. */
  finishedAt: number;
  /** From writing the final dot to its reply, per message, in ms. */
  acceptMs: number[];
  cpuMs: number;
}

export function worldRecipient(seq: number): string {
  return `user${seq}@${domainName((seq % DOMAIN_COUNT) + 1)}`;
}

/** The X-Bench-Seq label of the instruments' own warm-up messages, which the receivers do not record. */
export const WARM_UP_LABEL = 'warm-up';

/** Message `seq`, `size` bytes as submitted, labelled X-Bench-Seq (its seq, or `label`). */
export function worldMessage(seq: number, size: number, label: string = String(seq)): string {
  const headers =
    `From: <${SENDER}>\r\n` +
    `To: <${worldRecipient(seq)}>\r\n` +
    `Subject: Outpost comparison, message ${seq}\r\n` +
    'Date: Thu, 27 Nov 2025 12:00:00 +0000\r\n' +
    `Message-ID: <cmp.${seq}@bench.test>\r\n` +
    `X-Bench-Seq: ${label}\r\n` +
    '\r\n';
  return headers + fillerLines(seq, size - headers.length).join('');
}

export async function runWorldLoad(
  options: WorldLoadOptions,
  onStart: () => void = () => {},
): Promise<WorldLoadResult> {
  const connections = Math.min(DOMAIN_COUNT, options.messages);
  const acceptedAt = new Array<number>(options.messages).fill(Number.NaN);
  const acceptMs = new Array<number>(options.messages).fill(Number.NaN);
  const failures: string[] = [];
  let accepted = 0;
  const cpuBefore = process.cpuUsage();
  const pipes = await Promise.all(
    Array.from({ length: connections }, () => openSession(options.host, options.port)),
  );
  const startedAt = Date.now();
  const start = performance.now();
  onStart();
  await Promise.all(
    pipes.map(async (pipe, connection) => {
      for (let seq = connection; seq < options.messages; seq += connections) {
        if (options.rate) {
          const due = start + (seq * 1000) / options.rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        const outcome = await transact(pipe, seq, worldMessage(seq, options.size));
        if ('problem' in outcome) {
          if (failures.length < 5) failures.push(outcome.problem);
          continue;
        }
        accepted++;
        acceptedAt[seq] = Date.now();
        acceptMs[seq] = outcome.dataMs;
      }
      await closeSession(pipe);
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return {
    accepted,
    failed: options.messages - accepted,
    failures,
    startedAt,
    acceptedAt,
    finishedAt: Date.now(),
    acceptMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** The measured loop's code path, against the receivers directly, with unrecorded messages. */
async function warmUpInstruments(
  warmUp: NonNullable<WorldLoadOptions['warmUp']>,
  size: number,
): Promise<void> {
  await Promise.all(
    warmUp.hosts.map(async (host, connection) => {
      const pipe = await openSession(host, warmUp.port);
      for (let seq = connection; seq < warmUp.messages; seq += warmUp.hosts.length) {
        const outcome = await transact(pipe, seq, worldMessage(seq, size, WARM_UP_LABEL));
        if ('problem' in outcome) throw new Error(`warm-up: ${outcome.problem}`);
      }
      await closeSession(pipe);
    }),
  );
}

/** A session ready for mail: connected, greeted, EHLO answered. */
async function openSession(host: string, port: number): Promise<SmtpPipe> {
  const pipe = await SmtpPipe.connect(host, port, 60_000);
  const greeting = await pipe.reply();
  if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
  pipe.write('EHLO loadgen.bench.test\r\n');
  const ehlo = await pipe.reply();
  if (ehlo.code !== 250) throw new Error(`EHLO: ${ehlo.text}`);
  return pipe;
}

async function closeSession(pipe: SmtpPipe): Promise<void> {
  pipe.write('QUIT\r\n');
  await pipe.reply().catch(() => undefined);
  pipe.close();
}

/**
 * One message: MAIL + RCPT + DATA pipelined (RFC 2920), then the dot-stuffed data. Accepted: the
 * time from writing the data to its reply; else what the server said (RSET after a refused DATA).
 */
async function transact(
  pipe: SmtpPipe,
  seq: number,
  message: string,
): Promise<{ dataMs: number } | { problem: string }> {
  pipe.write(`MAIL FROM:<${SENDER}>\r\nRCPT TO:<${worldRecipient(seq)}>\r\nDATA\r\n`);
  const replies = await pipe.replies(3);
  if (replies[2]!.code !== 354) {
    pipe.write('RSET\r\n');
    await pipe.reply();
    return { problem: replies.map((reply) => reply.text).join(' | ') };
  }
  const sent = performance.now();
  pipe.write(dataSection(message));
  const final = await pipe.reply();
  if (final.code === 250 && replies[0]!.code === 250 && replies[1]!.code === 250) {
    return { dataMs: performance.now() - sent };
  }
  return { problem: final.text };
}

if (import.meta.main) {
  process.stdin.on('end', () => process.exit(1));
  const commands = createInterface({ input: process.stdin });
  try {
    const options = JSON.parse(process.argv[2] ?? '{}') as WorldLoadOptions;
    if (options.warmUp) await warmUpInstruments(options.warmUp, options.size);
    if (!options.port) {
      process.stdout.write('WARM {}\n');
      const target = await new Promise<string>((resolve) => commands.once('line', resolve));
      options.port = Number(target.replace(/^TARGET /, ''));
    }
    const result = await runWorldLoad(options, () => process.stdout.write('STARTED {}\n'));
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
  } catch (error) {
    process.stderr.write(`world load failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  }
}
