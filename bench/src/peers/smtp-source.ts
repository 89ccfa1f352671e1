/**
 * Postfix's smtp-source as the injector, the same for Postfix and for Outpost: one process per
 * destination domain (50), each with one SMTP session that sends its share one message after the
 * other (-d: the connection is reused), `-N` so every recipient is distinct. smtp-source does not
 * pipeline. It exits non-zero when the server refuses something.
 */
import { spawn } from 'node:child_process';
import { trackChild } from '../processes.ts';
import { DOMAINS, perDomain, SENDER } from './zone.ts';

export interface InjectionResult {
  startedAt: number;
  finishedAt: number;
  messages: number;
  /** Injector processes that exited non-zero, and the first lines they printed. */
  failedProcesses: number;
  errors: string[];
}

export function smtpSourceArgs(options: {
  size: number;
  messages: number;
  recipient: string;
  target: string;
  sessions?: number;
  reuse?: boolean;
}): string[] {
  return [
    ...(options.reuse === false ? [] : ['-d']),
    '-s',
    String(options.sessions ?? 1),
    '-l',
    String(options.size),
    '-m',
    String(options.messages),
    '-N',
    '-M',
    'bench.test',
    '-f',
    SENDER,
    '-t',
    options.recipient,
    options.target,
  ];
}

async function runAll(binary: string, argLists: string[][]): Promise<InjectionResult> {
  const startedAt = Date.now();
  const errors: string[] = [];
  let failedProcesses = 0;
  await Promise.all(
    argLists.map(
      (args) =>
        new Promise<void>((resolve) => {
          const child = trackChild(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
          let output = '';
          const collect = (chunk: Buffer) => {
            if (output.length < 2_000) output += chunk.toString('latin1');
          };
          child.stdout?.on('data', collect);
          child.stderr?.on('data', collect);
          child.once('exit', (code) => {
            if (code !== 0) {
              failedProcesses++;
              if (errors.length < 5) errors.push(`exit ${code}: ${output.trim().slice(0, 300)}`);
            }
            resolve();
          });
        }),
    ),
  );
  return { startedAt, finishedAt: Date.now(), messages: 0, failedProcesses, errors };
}

/** `total` messages of `size` bytes to the 50 domains, one injector per domain, against host:port. */
export async function injectToDomains(
  binary: string,
  options: { host: string; port: number; total: number; size: number },
): Promise<InjectionResult> {
  const shares = perDomain(options.total);
  const argLists = DOMAINS.map((domain, index) =>
    smtpSourceArgs({
      size: options.size,
      messages: shares[index]!,
      recipient: `user@${domain}`,
      target: `${options.host}:${options.port}`,
    }),
  ).filter((_, index) => shares[index]! > 0);
  const result = await runAll(binary, argLists);
  return { ...result, messages: options.total };
}

/** The raw ceiling: one smtp-source with `sessions` parallel sessions against one sink. */
export async function injectRaw(
  binary: string,
  options: { target: string; total: number; size: number; sessions: number; reuse: boolean },
): Promise<InjectionResult> {
  const args = smtpSourceArgs({
    size: options.size,
    messages: options.total,
    recipient: 'rcpt@sink.bench.test',
    target: options.target,
    sessions: options.sessions,
    reuse: options.reuse,
  });
  const result = await runAll(binary, [args]);
  return { ...result, messages: options.total };
}
