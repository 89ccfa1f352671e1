/**
 * The delivery benchmark's destination MX hosts, as their own process so that their CPU is not the
 * workers': one `startSmtpReceiver` (libs/testing, smtp-server underneath) per host, all on the same
 * port, plain SMTP (no STARTTLS offered).
 *
 * Every accepted message is noted with the time its 250 goes out (Date.now(), the same clock as the
 * enqueuing benchmark's arrivalTime) and its X-Bench-Seq header; the message itself is not kept.
 *
 * Talks to the benchmark over stdio, one line per message:
 *   argv[2]  ReceiversOptions as JSON
 *   stdout   READY {"pid":..}                 once every host listens
 *   stdin    "mark"   start the event-loop utilisation window (the load starts)
 *   stdin    "count"  -> stdout COUNT {"received":..,"unique":..,"warmUps":..}
 *   stdin    "report" -> stdout REPORT {...}  (ReceiversReport)
 *   stdin closed (the benchmark is gone), SIGTERM -> close and exit
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { type SmtpReceiver, type SmtpScript, startSmtpReceiver } from '@outpost/testing';
import { WARM_UP_LABEL } from './world-load.ts';

export const RECEIVER_BEHAVIOURS = ['instant', 'slow', 'retry'] as const;
export type ReceiverBehaviour = (typeof RECEIVER_BEHAVIOURS)[number];

export interface ReceiversOptions {
  /** Loopback addresses to listen on, one receiver each. */
  hosts: string[];
  port: number;
  /** instant: accept at once; slow: wait `delayMs` before every scripted reply; retry: 451 some RCPTs once. */
  behaviour: ReceiverBehaviour;
  delayMs: number;
  /** retry: this share of the recipient addresses (by a hash of the address) gets 451 on its first RCPT. */
  retryPercent: number;
}

export interface ReceiversReport {
  /** X-Bench-Seq of every message accepted, in order, and when its 250 went out (ms since the epoch). */
  seqs: number[];
  times: number[];
  /** Messages without a readable X-Bench-Seq header (should be 0). */
  unlabelled: number;
  /** The injector's warm-up messages, taken before the measured load and not in `seqs`. */
  warmUps: number;
  /** SMTP connections accepted, over all hosts. */
  sessions: number;
  /** RCPT commands answered 451 by the retry script. */
  tempFailures: number;
  /** RCPT commands seen by the retry script (0 for the other behaviours). */
  rcptCommands: number;
  /** Connection closed by the client or dropped, as the receivers logged them. */
  receiverErrors: number;
  eventLoopUtilization: number;
}

/** FNV-1a: a stable hash of an address, to pick the same 10% in every run. */
export function addressHash(address: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    hash ^= address.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Would the retry script answer this address 451 on its first RCPT? */
export function retriedAddress(address: string, percent: number): boolean {
  return addressHash(address.toLowerCase()) % 100 < percent;
}

const SEQ_HEADER = 'X-Bench-Seq: ';

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? '{}') as ReceiversOptions;
  const seqs: number[] = [];
  const times: number[] = [];
  let unlabelled = 0;
  /** The injector's warm-up messages (world-load.ts): taken, not recorded. */
  let warmUps = 0;
  let tempFailures = 0;
  let rcptCommands = 0;
  const seen = new Set<number>();

  const delayed = { delayMs: options.delayMs };
  const script: SmtpScript =
    options.behaviour === 'slow'
      ? { connect: delayed, mail: delayed, rcpt: delayed, data: delayed }
      : options.behaviour === 'retry'
        ? {
            rcpt: (ctx) => {
              rcptCommands++;
              if (ctx.attempt === 1 && retriedAddress(ctx.address, options.retryPercent)) {
                tempFailures++;
                return '451 4.3.0 try later';
              }
              return undefined;
            },
          }
        : {};

  const receivers: SmtpReceiver[] = [];
  for (const host of options.hosts) {
    const receiver = await startSmtpReceiver({ host, port: options.port, script, name: `mx.${host}` });
    // The kit keeps every message; here only its label and time are kept, noted as its 250 goes out.
    receiver.messages.push = (...messages) => {
      const now = Date.now();
      for (const message of messages) {
        const head = message.data.subarray(0, 2_048).toString('latin1');
        const at = head.indexOf(SEQ_HEADER);
        if (at !== -1 && head.startsWith(WARM_UP_LABEL, at + SEQ_HEADER.length)) {
          warmUps++;
          continue;
        }
        const seq = at === -1 ? Number.NaN : Number.parseInt(head.slice(at + SEQ_HEADER.length), 10);
        if (Number.isNaN(seq)) {
          unlabelled++;
          continue;
        }
        seqs.push(seq);
        times.push(now);
        seen.add(seq);
      }
      return 0;
    };
    receivers.push(receiver);
  }

  let elu = performance.eventLoopUtilization();
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(0), 5_000).unref();
    await Promise.all(receivers.map((receiver) => receiver.close()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void close());
  process.on('SIGINT', () => void close());

  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line === 'mark') {
      elu = performance.eventLoopUtilization();
    } else if (line === 'count') {
      process.stdout.write(
        `COUNT ${JSON.stringify({ received: seqs.length, unique: seen.size, warmUps })}\n`,
      );
    } else if (line === 'report') {
      const report: ReceiversReport = {
        seqs,
        times,
        unlabelled,
        warmUps,
        sessions: receivers.reduce((sum, receiver) => sum + receiver.sessions, 0),
        tempFailures,
        rcptCommands,
        receiverErrors: receivers.reduce(
          (sum, receiver) =>
            sum + receiver.events.filter((event) => event.outcome.startsWith('receiver error')).length,
          0,
        ),
        eventLoopUtilization: performance.eventLoopUtilization(elu).utilization,
      };
      process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
    }
  });
  commands.on('close', () => void close());
  process.stdout.on('error', () => void close());
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid })}\n`);
}
