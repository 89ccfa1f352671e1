import { diagnosisBlock, replyLine, statusBadge } from './diagnosis.js';
import { el, formatTime, messageLink } from './dom.js';

/** Recipient outcomes, newest first, each with its diagnosis and a link to its message. */
export function deliveriesTable(entries) {
  const body = el('tbody', {});
  appendDeliveryRows(body, entries);
  return el(
    'table',
    { class: 'deliveries' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ['Time', 'Recipient', 'Status', 'Reply', 'Diagnosis'].map((name) => el('th', {}, name)),
      ),
    ),
    body,
  );
}

export function appendDeliveryRows(body, entries) {
  for (const entry of entries) {
    const reply =
      entry.status === 'held'
        ? `${entry.heldBy === 'domain' ? 'domain' : 'message'} held by ${entry.by}`
        : replyLine(entry);
    const attempt =
      entry.attempt > 0
        ? `attempt ${entry.attempt} to ${entry.domain}`
        : `${entry.domain}, not attempted yet`;
    body.append(
      el(
        'tr',
        { class: 'delivery', 'data-status': entry.status },
        el('td', { class: 'time' }, formatTime(entry.time)),
        el(
          'td',
          { class: 'recipient' },
          messageLink(entry.messageId, entry.address),
          el('div', { class: 'muted small' }, attempt),
        ),
        el('td', {}, statusBadge(entry.status)),
        el('td', { class: 'reply' }, reply),
        el('td', {}, diagnosisBlock(entry.diagnosis)),
      ),
    );
  }
}
