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

async function waitForPort(host: string, port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let attempt = 0; attempt < 100; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`smtp-sink on ${host}:${port} did not come up`);
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

  for (let j = 1; j <= MX_COUNT; j++) {
    sinks[j - 1] = await launch(j, options.deferring?.includes(j) ? ['-r', 'RCPT'] : []);
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
