/**
 * What a Postfix maillog says about a run: deliveries (status=sent), deferrals (status=deferred) and
 * the delay= of each delivery (seconds from arrival in the queue to the remote 250, Postfix's own
 * enqueue-to-delivered figure).
 */
import { type Latency, latencyOf } from '../stats.ts';

export interface MaillogSummary {
  sent: number;
  deferred: number;
  bounced: number;
  /** delay= of the status=sent lines, in ms. */
  delayMs: Latency;
}

export function summarizeMaillog(text: string): MaillogSummary {
  let sent = 0;
  let deferred = 0;
  let bounced = 0;
  const delays: number[] = [];
  for (const line of text.split('\n')) {
    const status = line.match(/ status=(\w+)/)?.[1];
    if (status === 'sent') {
      sent++;
      const delay = line.match(/, delay=([0-9.]+),/)?.[1];
      if (delay !== undefined) delays.push(Number(delay) * 1000);
    } else if (status === 'deferred') deferred++;
    else if (status === 'bounced') bounced++;
  }
  delays.sort((a, b) => a - b);
  return { sent, deferred, bounced, delayMs: latencyOf(delays) };
}
