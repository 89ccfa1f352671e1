import { el } from './dom.js';

const label = (category) => category.replaceAll('_', ' ');

/** A failure's category, what it means and what to do about it. */
export function diagnosisBlock(diagnosis) {
  if (!diagnosis) return el('span', { class: 'muted' }, '-');
  return el(
    'div',
    { class: 'diagnosis', 'data-category': diagnosis.category },
    el(
      'span',
      { class: `category category-${diagnosis.category === 'held' ? 'held' : 'failure'}` },
      label(diagnosis.category),
    ),
    el('p', { class: 'explanation' }, diagnosis.explanation),
    el('p', { class: 'action' }, el('strong', {}, 'What to do: '), diagnosis.action),
  );
}

/** The reply that decided it: `550 5.1.1 <text>`. */
export function replyLine(entry) {
  const parts = [entry.replyCode, entry.enhancedStatus, entry.replyText].filter(
    (part) => part !== undefined && part !== null && part !== '',
  );
  return parts.length > 0 ? parts.join(' ') : '-';
}

export function statusBadge(status) {
  return el('span', { class: `status status-${status}`, 'data-status': status }, status);
}
