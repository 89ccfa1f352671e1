/**
 * The physical ceiling of SMTP on this machine: smtp-source straight into smtp-sink, no queue, no
 * DNS, no disk. 20 parallel sessions, each reusing its connection (-d), and the same with a new
 * connection per message. Needs the postfix package.
 */
import { type LoadAverage, loadAverage } from './loadavg.ts';
import { startSmtpSinks } from './peers/smtp-sinks.ts';
import { injectRaw } from './peers/smtp-source.ts';
import type { PeerTools } from './peers/system-tools.ts';
import { mxAddress } from './peers/zone.ts';

export interface CeilingRunResult {
  connections: 'reuse' | 'new';
  run: number;
  messages: number;
  size: number;
  sessions: number;
  delivered: number;
  elapsedMs: number;
  perSecond: number;
  loadavg: { start: LoadAverage; end: LoadAverage };
  problems: string[];
}

export async function runCeilingOnce(
  tools: PeerTools,
  settings: { connections: 'reuse' | 'new'; run: number; messages: number; size: number; sessions: number },
): Promise<CeilingRunResult> {
  const start = loadAverage();
  const sinks = await startSmtpSinks(tools.smtpSink);
  const problems: string[] = [];
  try {
    const injection = await injectRaw(tools.smtpSource, {
      target: `${mxAddress(1)}:${sinks.port}`,
      total: settings.messages,
      size: settings.size,
      sessions: settings.sessions,
      reuse: settings.connections === 'reuse',
    });
    const lastAt = (await sinks.waitFor(settings.messages, 10_000)) ?? Date.now();
    if (injection.failedProcesses > 0) problems.push(`smtp-source failed: ${injection.errors.join(' / ')}`);
    const delivered = sinks.delivered();
    if (delivered < settings.messages) problems.push(`${delivered} of ${settings.messages} arrived`);
    const elapsedMs = Math.max(lastAt, injection.finishedAt) - injection.startedAt;
    return {
      ...settings,
      delivered,
      elapsedMs,
      perSecond: delivered / (elapsedMs / 1000),
      loadavg: { start, end: loadAverage() },
      problems,
    };
  } finally {
    await sinks.stop();
  }
}
