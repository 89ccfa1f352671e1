import { apiGet } from './api.js';
import { diagnosisBlock, replyLine, statusBadge } from './diagnosis.js';
import { el, fill, formatTime, notice } from './dom.js';

/** One message: envelope, recipients with their diagnosis, and the timeline of attempts and actions. */
export async function messagePage(container, { fail, messageId }) {
  fill(container, el('h1', {}, 'Message'), notice('Loading...'));
  let view;
  try {
    view = await apiGet(`messages/${encodeURIComponent(messageId)}`);
  } catch (error) {
    if (fail(error)) return;
    fill(
      container,
      el('h1', {}, 'Message'),
      notice(
        error.status === 404 ? `No message ${messageId} in the queue or the delivery log.` : error.message,
        'error',
      ),
    );
    return;
  }
  fill(
    container,
    el(
      'h1',
      {},
      'Message ',
      el('span', { class: 'mono', id: 'message-id' }, view.messageId),
      ' ',
      statusBadge(view.state),
    ),
    envelopeCard(view),
    recipientsCard(view),
    view.jobs.length > 0 ? jobsCard(view.jobs) : null,
    timelineCard(view),
  );
}

function envelopeCard(view) {
  const envelope = view.envelope ?? {};
  const facts = [
    ['From', envelope.sender === '' ? '<> (null sender)' : (envelope.sender ?? '-')],
    ['Subject', envelope.headers?.subject ?? '-'],
    ['Message-ID', envelope.headers?.messageId ?? '-'],
    ['Size', envelope.size !== undefined ? `${envelope.size} bytes` : '-'],
    ['Arrived', formatTime(envelope.arrivalTime)],
    ['Expires', formatTime(envelope.expiresAt)],
    [
      'Client',
      envelope.client
        ? `${envelope.client.protocol} from ${envelope.client.address}${envelope.client.user ? ` as ${envelope.client.user}` : ''}`
        : '-',
    ],
  ];
  if (view.held) facts.push(['Held', `by ${view.held.by} since ${formatTime(view.held.at)}`]);
  if (view.traceId)
    facts.push([
      'Trace',
      view.traceUrl ? el('a', { href: view.traceUrl, rel: 'noreferrer' }, view.traceId) : view.traceId,
    ]);
  return el(
    'section',
    { class: 'card', id: 'envelope' },
    el('h2', {}, 'Envelope'),
    el(
      'dl',
      { class: 'facts' },
      facts.map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
    ),
  );
}

function recipientsCard(view) {
  return el(
    'section',
    { class: 'card', id: 'recipients' },
    el('h2', {}, 'Recipients'),
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ['Recipient', 'Status', 'Attempts', 'Last reply', 'Diagnosis'].map((name) => el('th', {}, name)),
        ),
      ),
      el(
        'tbody',
        {},
        view.recipients.map((recipient) =>
          el(
            'tr',
            { class: 'recipient-state', 'data-status': recipient.status },
            el('td', {}, recipient.address),
            el('td', {}, statusBadge(recipient.status)),
            el('td', {}, String(recipient.attempts)),
            el('td', { class: 'reply' }, replyLine(recipient)),
            el('td', {}, diagnosisBlock(recipient.diagnosis)),
          ),
        ),
      ),
    ),
  );
}

function jobsCard(jobs) {
  return el(
    'section',
    { class: 'card', id: 'jobs' },
    el('h2', {}, 'Queued'),
    el(
      'ul',
      {},
      jobs.map((job) =>
        el(
          'li',
          {},
          `${job.domain}: ${job.state}, ${job.attempts} attempt(s) so far`,
          job.nextAttemptAt ? `, next attempt ${formatTime(job.nextAttemptAt)}` : '',
          ` (${job.recipients.join(', ')})`,
        ),
      ),
    ),
  );
}

/** Attempts and operator actions in time order; each attempt with its verdicts and transcripts. */
function timelineCard(view) {
  const events = [
    ...view.attempts.map((attempt) => ({ time: attempt.time, node: attemptBlock(attempt) })),
    ...view.actions.map((action) => ({
      time: action.time,
      node: el(
        'li',
        { class: 'event action' },
        el(
          'div',
          { class: 'event-head' },
          el('time', {}, formatTime(action.time)),
          ` ${action.action} by ${action.by}`,
        ),
        action.detail ? el('div', { class: 'muted' }, action.detail) : null,
      ),
    })),
  ].sort((a, b) => a.time - b.time);
  return el(
    'section',
    { class: 'card', id: 'timeline' },
    el('h2', {}, 'Timeline'),
    events.length > 0
      ? el(
          'ol',
          { class: 'timeline' },
          events.map((event) => event.node),
        )
      : notice('No attempt yet.'),
  );
}

function attemptBlock(attempt) {
  const via = attempt.mxHost ? ` via ${attempt.mxHost} [${attempt.mxAddress ?? '?'}]` : '';
  return el(
    'li',
    { class: 'event attempt' },
    el(
      'div',
      { class: 'event-head' },
      el('time', {}, formatTime(attempt.time)),
      ` attempt ${attempt.attempt} to ${attempt.domain}${via}, ${attempt.durationMs} ms`,
    ),
    el(
      'table',
      { class: 'verdicts' },
      el(
        'tbody',
        {},
        attempt.recipients.map((recipient) =>
          el(
            'tr',
            { class: 'verdict', 'data-status': recipient.status },
            el('td', {}, recipient.address),
            el('td', {}, statusBadge(recipient.status)),
            el('td', { class: 'reply' }, replyLine(recipient)),
            el('td', {}, diagnosisBlock(recipient.diagnosis)),
          ),
        ),
      ),
    ),
    attempt.mtaSts ? mtaStsLine(attempt.mtaSts) : null,
    attempt.sessions.map(sessionBlock),
  );
}

/** The receiver's MTA-STS policy as it applied to the attempt (RFC 8461). */
function mtaStsLine(policy) {
  const parts = [`MTA-STS policy in ${policy.mode} mode (${policy.policyId}, ${policy.source})`];
  if (policy.unlistedMx?.length) parts.push(`MX hosts it does not list: ${policy.unlistedMx.join(', ')}`);
  if (policy.failures?.length) parts.push(`failed: ${policy.failures.join('; ')}`);
  if (policy.note) parts.push(policy.note);
  return el('div', { class: 'muted mta-sts' }, parts.join('. '));
}

/** `TLS (TLSv1.3, certificate verified, MTA-STS)`; older records only say whether it was encrypted. */
function tlsText(session) {
  const outcome = session.tlsOutcome;
  if (!outcome) return session.tls ? ', TLS' : '';
  if (outcome.mode === 'none') return ', no TLS';
  const details = [
    outcome.protocol,
    outcome.certificateVerified === undefined
      ? undefined
      : outcome.certificateVerified
        ? 'certificate verified'
        : 'certificate not verified',
    outcome.mode === 'mta-sts' ? 'required by MTA-STS' : undefined,
  ].filter(Boolean);
  return `, TLS${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

function sessionBlock(session) {
  const head = `SMTP session with ${session.host} [${session.address}]:${session.port}${tlsText(session)}, ${session.durationMs} ms`;
  const tlsError = session.tlsOutcome?.error
    ? el('div', { class: 'muted' }, `TLS: ${session.tlsOutcome.error}`)
    : null;
  if (!session.transcript || session.transcript.length === 0)
    return el(
      'div',
      { class: 'session' },
      el('div', { class: 'muted' }, `${head} (no transcript: it delivered)`),
      tlsError,
    );
  const start = session.transcript[0].at;
  return el(
    'details',
    { class: 'session', open: true },
    el('summary', {}, head),
    tlsError,
    el(
      'div',
      { class: 'transcript', role: 'log' },
      session.transcript.map((line) =>
        el(
          'div',
          { class: 'tline', 'data-direction': line.direction === '*' ? 'note' : line.direction },
          el('span', { class: 'toff' }, `+${Math.max(line.at - start, 0)} ms`),
          el('span', { class: 'tdir' }, line.direction),
          el('span', { class: 'ttext' }, line.text),
        ),
      ),
    ),
  );
}
