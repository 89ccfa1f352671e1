import { apiGet } from './api.js';
import { outcomeChart } from './chart.js';
import { deliveriesTable } from './deliveries-table.js';
import { diagnosisBlock } from './diagnosis.js';
import { el, fill, formatAge, formatTime, messageLink, notice } from './dom.js';

const HOUR_CHOICES = [6, 24, 72, 168];

/** At a glance: the queue, outcomes per hour, the newest failures, and each destination's state. */
export function overviewView(container, { fail, hours = 24 }) {
  const summary = el(
    'section',
    { id: 'summary', class: 'card' },
    el('h2', {}, 'Queue'),
    notice('Loading...'),
  );
  const chart = el('section', { id: 'outcomes', class: 'card' });
  const failures = el(
    'section',
    { id: 'failures', class: 'card' },
    el('h2', {}, 'Newest failures'),
    notice('Loading...'),
  );
  const destinations = el(
    'section',
    { id: 'destinations', class: 'card' },
    el('h2', {}, 'Destinations'),
    notice('Loading...'),
  );
  fill(container, el('h1', {}, 'Overview'), summary, chart, failures, destinations);

  const load = (section, title, work) =>
    work().catch((error) => {
      if (fail(error)) return;
      fill(section, el('h2', {}, title), notice(error.message, 'error'));
    });

  load(summary, 'Queue', async () =>
    fill(summary, el('h2', {}, 'Queue'), queueSummary(await apiGet('queue'))),
  );
  const drawChart = (chosen) =>
    load(chart, 'Outcomes', async () => {
      const stats = await apiGet('stats/outcomes', { hours: chosen });
      fill(chart, chartHeading(chosen, drawChart), outcomeChart(stats));
    });
  drawChart(hours);
  load(failures, 'Newest failures', async () => {
    const { deliveries } = await apiGet('deliveries', { status: 'failed', limit: 10 });
    fill(
      failures,
      el('h2', {}, 'Newest failures'),
      deliveries.length > 0
        ? deliveriesTable(deliveries)
        : notice('No bounced or expired recipients in the log.'),
      el('p', {}, el('a', { href: '#/search' }, 'Search all deliveries')),
    );
  });
  load(destinations, 'Destinations', async () => {
    const state = await apiGet('destinations');
    fill(
      destinations,
      el('h2', {}, 'Destinations'),
      destinationsTable(state.destinations),
      heldDomains(state.heldDomains),
    );
  });
}

/** Why a destination is paused, as the page says it. */
const PAUSE_CAUSES = {
  unreachable: ' (unreachable)',
  'deferred-all': ' (backed off: it deferred everything)',
};

function chartHeading(hours, redraw) {
  const select = el(
    'select',
    { id: 'chart-hours', 'aria-label': 'Hours shown' },
    HOUR_CHOICES.map((choice) =>
      el(
        'option',
        { value: choice, selected: choice === hours },
        choice === 168 ? '7 days' : `${choice} hours`,
      ),
    ),
  );
  select.addEventListener('change', () => redraw(Number(select.value)));
  return el('div', { class: 'card-heading' }, el('h2', {}, 'Outcomes per hour'), select);
}

function queueSummary(overview) {
  const delivery = overview.queues.delivery ?? {};
  const items = [
    [
      'Delivery',
      overview.deliveryPaused
        ? el(
            'strong',
            { class: 'bad' },
            'PAUSED by an operator: nothing is delivered (outpost delivery resume)',
          )
        : 'running',
    ],
    [
      'Delivery jobs',
      `${delivery.waiting ?? 0} waiting, ${delivery.active ?? 0} active, ${delivery.delayed ?? 0} waiting for a retry`,
    ],
    [
      'Oldest message',
      overview.oldestMessage
        ? [
            messageLink(overview.oldestMessage.messageId),
            ` arrived ${formatAge(overview.oldestMessage.ageMs)} ago`,
          ]
        : 'none queued',
    ],
    [
      'Held',
      `${overview.heldMessages} message(s); domains: ${overview.heldDomains.length > 0 ? overview.heldDomains.join(', ') : 'none'}`,
    ],
  ];
  return el(
    'dl',
    { class: 'facts' },
    items.map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
  );
}

function destinationsTable(destinations) {
  if (destinations.length === 0) return notice('No destination has been contacted yet.');
  return el(
    'table',
    { class: 'destinations' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ['Destination (MX hosts)', 'Window', 'In flight', 'State', 'Last error'].map((name) =>
          el('th', {}, name),
        ),
      ),
    ),
    el(
      'tbody',
      {},
      destinations.map((destination) =>
        el(
          'tr',
          { class: 'destination', 'data-status': destination.pausedUntil ? 'paused' : 'open' },
          el('td', { class: 'mono' }, destination.destination),
          el('td', {}, String(destination.window)),
          el('td', {}, String(destination.inFlight)),
          el(
            'td',
            {},
            destination.pausedUntil
              ? el(
                  'span',
                  { class: 'status status-paused' },
                  `paused until ${formatTime(destination.pausedUntil)}${PAUSE_CAUSES[destination.pauseCause] ?? ''}`,
                )
              : 'open',
          ),
          el('td', { class: 'reply' }, destination.lastError ?? '-'),
        ),
      ),
    ),
  );
}

function heldDomains(holds) {
  if (!holds || holds.length === 0) return null;
  return el(
    'div',
    { class: 'held-domains' },
    el('h3', {}, 'Domains paused by an operator'),
    el(
      'ul',
      {},
      holds.map((hold) =>
        el(
          'li',
          { class: 'held-domain' },
          el('strong', {}, hold.domain),
          ` by ${hold.by}${hold.at ? ` since ${formatTime(hold.at)}` : ''}`,
          diagnosisBlock(hold.diagnosis),
        ),
      ),
    ),
  );
}
