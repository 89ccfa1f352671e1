import type { DeliveryEntry } from '@outpost/store';
import { type Diagnosis, diagnoseEntry, diagnoseMessageView } from './diagnosis-view.ts';
import type { HeldEntry } from './held-deliveries.ts';
import type { MessageView } from './message-view.ts';
import type { QueueOverview } from './queue-overview.ts';

/** Plain-text views for the CLI: one purpose each, nothing but formatting. */

/**
 * Control characters shown as escapes (tab and newline excepted): reply texts and transcripts come
 * from remote servers, and a lone CR or an escape sequence would let one rewrite what the operator's
 * terminal shows (a bounce made to look delivered) or drive the terminal itself.
 */
export function terminalSafe(text: string): string {
  return text.replace(
    /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,
    (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

const time = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

/** The diagnosis under the line it explains: what it means, then what to do. */
const diagnosisLines = (diagnosis: Diagnosis | undefined, indent: string): string[] =>
  diagnosis ? [`${indent}why: ${diagnosis.explanation}`, `${indent}what to do: ${diagnosis.action}`] : [];

/** The message's story in time order: arrival, every attempt with its transcript, every action. */
export function formatMessageTimeline(view: MessageView): string {
  const lines: string[] = [];
  const envelope = view.envelope;
  lines.push(`message ${view.messageId}  (${view.state})`);
  if (envelope) {
    lines.push(`  from <${envelope.sender}>  size ${envelope.size ?? '-'} bytes`);
    if (envelope.headers?.subject !== undefined) lines.push(`  subject: ${envelope.headers.subject}`);
    lines.push(`  arrived ${time(envelope.arrivalTime)}, expires ${time(envelope.expiresAt)}`);
  }
  if (view.held) lines.push(`  HELD by ${view.held.by} since ${time(view.held.at)}`);
  if (view.traceId) lines.push(`  trace ${view.traceId}${view.traceUrl ? `  ${view.traceUrl}` : ''}`);
  lines.push('', 'RECIPIENT\tSTATUS\tATTEMPTS\tDETAIL');
  for (const recipient of diagnoseMessageView(view).recipients) {
    const detail = [recipient.enhancedStatus, recipient.category, recipient.replyText]
      .filter(Boolean)
      .join(' ');
    lines.push(`${recipient.address}\t${recipient.status}\t${recipient.attempts}\t${detail || '-'}`);
    lines.push(...diagnosisLines(recipient.diagnosis, '  '));
  }
  for (const job of view.jobs) {
    const next = job.nextAttemptAt ? `, next ${time(job.nextAttemptAt)}` : '';
    lines.push(`  job ${job.id} (${job.domain}): ${job.state}${next}`);
  }

  const events = [
    ...view.attempts.map((attempt) => ({ at: attempt.time, text: attemptLines(attempt) })),
    ...view.actions.map((action) => ({
      at: action.time,
      text: [
        `${time(action.time)}  ${action.action} by ${action.by}${action.detail ? ` (${action.detail})` : ''}`,
      ],
    })),
  ].sort((a, b) => a.at - b.at);
  lines.push('');
  for (const event of events) lines.push(...event.text);
  return terminalSafe(`${lines.join('\n')}\n`);
}

function attemptLines(attempt: MessageView['attempts'][number]): string[] {
  const via = attempt.mxHost ? ` via ${attempt.mxHost} [${attempt.mxAddress ?? '?'}]` : '';
  const lines = [
    `${time(attempt.time)}  attempt ${attempt.attempt} to ${attempt.domain}${via} (${attempt.durationMs} ms)`,
  ];
  for (const recipient of attempt.recipients) {
    const reply = recipient.replyText
      ? `  ${recipient.replyCode ?? ''} ${recipient.replyText}`.trimEnd()
      : '';
    lines.push(
      `    ${recipient.address}: ${recipient.status} ${recipient.enhancedStatus} ${recipient.category}${reply}`,
    );
  }
  for (const session of attempt.sessions) {
    if (!session.transcript) continue;
    lines.push(
      `    transcript ${session.host} [${session.address}]:${session.port}${session.tls ? ' (TLS)' : ''}`,
    );
    for (const line of session.transcript) lines.push(`      ${line.direction}: ${line.text}`);
  }
  return lines;
}

/** One line per recipient outcome, newest first, each followed by its diagnosis. */
export function formatDeliveries(entries: ReadonlyArray<DeliveryEntry | HeldEntry>): string {
  const lines = ['TIME\tMESSAGE\tRECIPIENT\tSTATUS\tCODE\tCATEGORY\tREPLY'];
  for (const entry of entries) {
    const { diagnosis } = diagnoseEntry(entry);
    if (entry.status === 'held' && 'heldBy' in entry) {
      lines.push(
        `${time(entry.time)}\t${entry.messageId}\t${entry.address}\theld\t-\t-\tby ${entry.by} (${entry.heldBy})`,
      );
      lines.push(...diagnosisLines(diagnosis, '  '));
      continue;
    }
    const delivery = entry as DeliveryEntry;
    lines.push(
      [
        time(delivery.time),
        delivery.messageId,
        delivery.address,
        delivery.status,
        delivery.enhancedStatus,
        delivery.category,
        delivery.replyText ? `${delivery.replyCode ?? ''} ${delivery.replyText}`.trim() : '-',
      ].join('\t'),
    );
    lines.push(...diagnosisLines(diagnosis, '  '));
  }
  return terminalSafe(`${lines.join('\n')}\n`);
}

export function formatOverview(overview: QueueOverview): string {
  const lines = [`delivery: ${overview.deliveryPaused ? 'PAUSED by an operator (switched off)' : 'running'}`];
  for (const [name, counts] of Object.entries(overview.queues)) {
    const shown = Object.entries(counts)
      .filter(([state, count]) => count > 0 || state === 'waiting' || state === 'delayed')
      .map(([state, count]) => `${state} ${count}`);
    lines.push(`${name}: ${shown.join(', ')}`);
  }
  const oldest = overview.oldestMessage;
  lines.push(
    oldest
      ? `oldest message: ${oldest.messageId}, arrived ${time(oldest.arrivalTime)} (${Math.round(oldest.ageMs / 1000)} s ago)`
      : 'oldest message: none queued',
  );
  lines.push(`held messages: ${overview.heldMessages}`);
  lines.push(`held domains: ${overview.heldDomains.length > 0 ? overview.heldDomains.join(', ') : 'none'}`);
  return terminalSafe(`${lines.join('\n')}\n`);
}
