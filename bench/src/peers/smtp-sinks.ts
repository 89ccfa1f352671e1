/**
 * Postfix's smtp-sink as the receiving MX hosts: one per address 127.0.0.2-11, port 25 (it drops root
 * for `nobody` once listening). Deliveries are counted from its `-c` status line (SinkCounter), so
 * the benchmark sees each message as the sink takes it. A sink can be restarted with other flags: the
 * "10% deferred" workload starts mx10 with `-r RCPT` (450 to every RCPT) and restarts it plain once
 * the other 90% have arrived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { trackChild } from '../processes.ts';
import { SinkCounter } from './sink-counter.ts';
import { MX_COUNT, mxAddress } from './zone.ts';

export const SINK_PORT = 25;

interface Sink {
  child: ChildProcess;
  counter: SinkCounter;
  exited: Promise<void>;
}

export interface SmtpSinks {
  port: number;
  /** Messages taken by all sinks since start (restarts included). */
  delivered(): number;
  /** Resolves with Date.now() when the total reaches `count`; undefined if `timeoutMs` passes first. */
  waitFor(count: number, timeoutMs: number): Promise<number | undefined>;
  /** Restarts sink j (1-based) with extra flags (e.g. ['-r', 'RCPT']). */
  restart(j: number, flags: string[]): Promise<void>;
  stop(): Promise<void>;
}

/** True when something accepts a TCP connection on host:port. */
async function answers(host: string, port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(host: string, port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await answers(host, port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`smtp-sink on ${host}:${port} did not come up`);
}

/**
 * smtp-sink listens with SO_REUSEPORT: a second sink on the same address starts without a word
 * and the kernel shares the connections between the two, so a sink left over from an earlier run
 * would take about half of the messages out of the count.
 */
async function ensureNothingListens(host: string, port: number): Promise<void> {
  if (await answers(host, port)) {
    throw new Error(
      `something already listens on ${host}:${port} (a smtp-sink left from an earlier run? ` +
        '`pgrep -a smtp-sink`); it would share the connections and the count: stop it first',
    );
  }
}

export async function startSmtpSinks(
  binary: string,
  options: { deferring?: number[] } = {},
): Promise<SmtpSinks> {
  const sinks: Sink[] = [];
  let retired = 0; // messages counted by sinks that were restarted
  const waiters = new Set<() => void>();
  const total = () => retired + sinks.reduce((sum, sink) => sum + (sink?.counter.messages ?? 0), 0);

  const launch = async (j: number, flags: string[]): Promise<Sink> => {
    const address = mxAddress(j);
    await ensureNothingListens(address, SINK_PORT);
    const child = trackChild(
      spawn(binary, ['-c', '-u', 'nobody', '-m', '1024', ...flags, `${address}:${SINK_PORT}`, '1024'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    const counter = new SinkCounter();
    child.stdout?.setEncoding('latin1').on('data', (chunk: string) => {
      counter.feed(chunk);
      for (const wake of waiters) wake();
    });
    child.stderr?.resume();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitForPort(address, SINK_PORT);
    return { child, counter, exited };
  };
  const halt = async (sink: Sink) => {
    if (sink.child.exitCode === null && sink.child.signalCode === null) sink.child.kill('SIGTERM');
    const timer = setTimeout(() => sink.child.kill('SIGKILL'), 3_000);
    await sink.exited;
    clearTimeout(timer);
  };

  try {
    for (let j = 1; j <= MX_COUNT; j++) {
      sinks[j - 1] = await launch(j, options.deferring?.includes(j) ? ['-r', 'RCPT'] : []);
    }
  } catch (error) {
    await Promise.all(sinks.map(halt));
    throw error;
  }
  return {
    port: SINK_PORT,
    delivered: total,
    waitFor(count, timeoutMs) {
      return new Promise((resolve) => {
        const check = () => {
          if (total() < count) return;
          done();
          resolve(Date.now());
        };
        const timer = setTimeout(() => {
          done();
          resolve(undefined);
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async restart(j, flags) {
      const old = sinks[j - 1]!;
      await halt(old);
      retired += old.counter.messages;
      sinks[j - 1] = await launch(j, flags);
    },
    async stop() {
      await Promise.all(sinks.map(halt));
    },
  };
}
