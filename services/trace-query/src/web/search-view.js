import { apiGet } from './api.js';
import { appendDeliveryRows, deliveriesTable } from './deliveries-table.js';
import { el, fill, notice, toLocalInput } from './dom.js';

const STATUSES = [
  ['failed', 'failed (bounced or expired)'],
  ['bounced', 'bounced'],
  ['expired', 'expired'],
  ['deferred', 'deferred'],
  ['held', 'held'],
  ['delivered', 'delivered'],
  ['', 'any'],
];
const DAY_MS = 86_400_000;
const PAGE_SIZE = 50;

/**
 * Deliveries by time range, domain, recipient and status. The query lives in the address
 * (`#/search?domain=...`), so a search can be bookmarked or passed on.
 */
export function searchView(container, { fail, params, navigate }) {
  const now = Date.now();
  const query = {
    since: Number(params.get('since')) || now - DAY_MS,
    until: Number(params.get('until')) || undefined,
    domain: params.get('domain') ?? '',
    recipient: params.get('recipient') ?? '',
    status: params.has('status') ? (params.get('status') ?? '') : 'failed',
  };
  const field = (id, label, input) => el('div', { class: 'field' }, el('label', { for: id }, label), input);
  const since = el('input', {
    id: 'search-since',
    name: 'since',
    type: 'datetime-local',
    value: toLocalInput(query.since),
  });
  const until = el('input', {
    id: 'search-until',
    name: 'until',
    type: 'datetime-local',
    value: query.until ? toLocalInput(query.until) : undefined,
  });
  const domain = el('input', {
    id: 'search-domain',
    name: 'domain',
    type: 'text',
    value: query.domain,
    placeholder: 'example.org',
  });
  const recipient = el('input', {
    id: 'search-recipient',
    name: 'recipient',
    type: 'text',
    value: query.recipient,
    placeholder: 'bob@example.org',
  });
  const status = el(
    'select',
    { id: 'search-status', name: 'status' },
    STATUSES.map(([value, label]) => el('option', { value, selected: value === query.status }, label)),
  );
  const form = el(
    'form',
    { class: 'search', id: 'search-form' },
    field('search-since', 'From', since),
    field('search-until', 'To (empty: now)', until),
    field('search-domain', 'Domain', domain),
    field('search-recipient', 'Recipient', recipient),
    field('search-status', 'Status', status),
    el('button', { type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const time = (input) => (input.value ? new Date(input.value).getTime() : undefined);
    for (const [name, value] of [
      ['since', time(since)],
      ['until', time(until)],
      ['domain', domain.value.trim()],
      ['recipient', recipient.value.trim()],
      ['status', status.value],
    ]) {
      if (value !== undefined && (value !== '' || name === 'status')) next.set(name, String(value));
    }
    navigate(`#/search?${next}`);
  });
  const results = el(
    'section',
    { id: 'results', class: 'card', 'aria-live': 'polite' },
    notice('Searching...'),
  );
  fill(container, el('h1', {}, 'Search deliveries'), form, results);
  runSearch(results, query, fail);
}

async function runSearch(results, query, fail) {
  const params = {
    since: query.since,
    until: query.until,
    domain: query.domain,
    recipient: query.recipient,
    status: query.status,
    limit: PAGE_SIZE,
  };
  try {
    const page = await apiGet('deliveries', params);
    if (page.deliveries.length === 0) {
      fill(results, notice('No matching deliveries.'));
      return;
    }
    const table = deliveriesTable(page.deliveries);
    const count = el('p', { class: 'muted', id: 'result-count' });
    let shown = page.deliveries.length;
    const more = el('button', { type: 'button', class: 'more' }, 'Older results');
    let cursor = page.cursor;
    const update = () => {
      count.textContent = `${shown} result(s)${cursor ? ', more below' : ''}`;
      more.hidden = !cursor;
    };
    more.addEventListener('click', async () => {
      more.disabled = true;
      try {
        const next = await apiGet('deliveries', { ...params, cursor });
        appendDeliveryRows(table.tBodies[0], next.deliveries);
        shown += next.deliveries.length;
        cursor = next.cursor;
        update();
      } catch (error) {
        if (!fail(error)) results.append(notice(error.message, 'error'));
      } finally {
        more.disabled = false;
      }
    });
    update();
    fill(results, count, table, more);
  } catch (error) {
    if (!fail(error)) fill(results, notice(error.message, 'error'));
  }
}
