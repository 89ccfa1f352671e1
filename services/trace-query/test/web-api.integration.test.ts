import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { explainCategory } from '@outpost/core';
import { PAGE_CSP } from '../src/http/routes/page.ts';
import type { Diagnosis, MessageView, OutcomeCounts } from '../src/index.ts';
import { api } from './helpers.ts';
import { startWebWorld, type WebWorld } from './web-fixtures.ts';

/** The JSON the page is built from, and the page's files, without a browser. */
let world: WebWorld;
before(async () => {
  world = await startWebWorld();
});
after(async () => {
  await world?.stop();
});

const get = <T = Record<string, unknown>>(path: string) => api<T>(world.base, world.key, path);
type Entry = { address: string; status: string; category?: string; diagnosis?: Diagnosis };

test('outcomes per hour: exactly the recipients written in each hour, the running hour last', async () => {
  const { status, body } = await get<OutcomeCounts>('/v1/stats/outcomes?hours=8');
  assert.equal(status, 200);
  assert.equal(body.buckets.length, 8);
  assert.equal(body.bucketMs, 3_600_000);
  const last = body.buckets.at(-1)!;
  assert.ok(last.start <= Date.now() && Date.now() < last.start + body.bucketMs, 'the last hour is now');
  const expected = body.buckets.map((bucket) => {
    const counts: Record<string, number> = { delivered: 0, deferred: 0, bounced: 0, expired: 0 };
    for (const outcome of world.outcomes)
      if (outcome.time >= bucket.start && outcome.time < bucket.start + body.bucketMs)
        counts[outcome.status]!++;
    return counts;
  });
  assert.deepEqual(
    body.buckets.map((bucket) => bucket.counts),
    expected,
  );
  const day = (await get<OutcomeCounts>('/v1/stats/outcomes')).body;
  assert.equal(day.buckets.length, 24, 'the last 24 hours by default');
  // 15 + bob delivered; nobody@ and carol@ bounced; two greylistings, one refused connection.
  assert.deepEqual(day.totals, { delivered: 16, deferred: 2, bounced: 2, expired: 1 });
  for (const bad of ['hours=0', 'hours=169', 'hours=two', 'days=1'])
    assert.equal((await get(`/v1/stats/outcomes?${bad}`)).status, 400, bad);
  assert.equal((await api(world.base, undefined, '/v1/stats/outcomes')).status, 401);
});

test('every failure in /v1/deliveries carries its diagnosis; deliveries need none', async () => {
  const { body } = await get<{ deliveries: Entry[] }>('/v1/deliveries?limit=500');
  const byAddress = (address: string, status: string) =>
    body.deliveries.find((entry) => entry.address === address && entry.status === status)!;
  const { cause, operatorAction } = explainCategory('no_such_user');
  assert.deepEqual(byAddress('nobody@gmail.test', 'bounced').diagnosis, {
    category: 'no_such_user',
    explanation: cause,
    action: operatorAction,
  });
  assert.equal(byAddress('carol@example.org', 'bounced').diagnosis?.category, 'policy_ip_or_ptr');
  assert.match(byAddress('carol@example.org', 'bounced').diagnosis!.explanation, /reverse DNS \(PTR\)/);
  const expired = byAddress('dave@grey.test', 'expired').diagnosis!;
  assert.equal(expired.category, 'greylisted');
  assert.match(
    expired.explanation,
    /^The queue lifetime ran out before it could be delivered\. The last problem: /,
  );
  assert.equal(byAddress('erin@slow.test', 'deferred').diagnosis?.category, 'connection_refused_or_timeout');
  assert.equal(byAddress('bob@example.org', 'delivered').diagnosis, undefined);
});

test('held recipients: "Delivery paused by an operator", and how to resume', async () => {
  const { body } = await get<{ deliveries: Array<Entry & { by: string; heldBy: string }> }>(
    '/v1/deliveries?status=held',
  );
  assert.deepEqual(
    body.deliveries.map((entry) => [entry.address, entry.heldBy, entry.by]),
    [['frank@held.test', 'domain', 'ops']],
  );
  const diagnosis = body.deliveries[0]!.diagnosis!;
  assert.equal(diagnosis.category, 'held');
  assert.match(diagnosis.explanation, /^Delivery paused by an operator \(ops\): mail for held\.test is held/);
  assert.match(diagnosis.action, /`outpost destination resume held\.test`/);
  assert.match(diagnosis.action, /POST \/v1\/domains\/held\.test\/release/);

  const { body: view } = await get<{ recipients: Entry[] }>(`/v1/messages/${world.ids.held}`);
  assert.equal(view.recipients[0]!.status, 'held');
  assert.equal(view.recipients[0]!.diagnosis?.category, 'held');
  assert.match(view.recipients[0]!.diagnosis!.action, /outpost destination resume held\.test/);
});

test('a message: every recipient state and every attempt verdict carries its diagnosis', async () => {
  type View = Omit<MessageView, 'recipients' | 'attempts'> & {
    recipients: Entry[];
    attempts: Array<Omit<MessageView['attempts'][number], 'recipients'> & { recipients: Entry[] }>;
  };
  const { body: view } = await get<View>(`/v1/messages/${world.ids.expired}`);
  assert.deepEqual(
    view.attempts.map((attempt) =>
      attempt.recipients.map((entry) => [entry.status, entry.diagnosis?.category]),
    ),
    [[['deferred', 'greylisted']], [['expired', 'greylisted']]],
  );
  assert.match(view.recipients[0]!.diagnosis!.explanation, /queue lifetime ran out/);
  const { body: mixed } = await get<View>(`/v1/messages/${world.ids.mixed}`);
  assert.deepEqual(
    mixed.recipients.map((entry) => [entry.address, entry.diagnosis?.category]),
    [
      ['bob@example.org', undefined],
      ['carol@example.org', 'policy_ip_or_ptr'],
    ],
  );
});

test('destinations: window, automatic pause and last error; domains held by an operator', async () => {
  const { body } = await get<{
    destinations: Array<{ destination: string; window: number; pausedUntil?: number; lastError?: string }>;
    heldDomains: Array<{ domain: string; by: string; at: number; diagnosis: Diagnosis }>;
  }>('/v1/destinations');
  const gmail = body.destinations.find((entry) => entry.destination === 'mx.gmail.test:25')!;
  assert.equal(gmail.window, 2, 'the window of 5 halved by the trouble');
  assert.equal(gmail.lastError, '421 4.7.0 Try again later, closing connection');
  assert.equal(gmail.pausedUntil, undefined);
  const slow = body.destinations.find((entry) => entry.destination === 'mx.slow.test:25')!;
  assert.equal(slow.pausedUntil, world.now + 10 * 60_000);
  assert.equal(body.heldDomains.length, 1);
  assert.equal(body.heldDomains[0]!.domain, 'held.test');
  assert.equal(body.heldDomains[0]!.by, 'ops');
  assert.ok(body.heldDomains[0]!.at >= world.now);
  assert.equal(body.heldDomains[0]!.diagnosis.category, 'held');
});

test('the page: served without a key, with a strict CSP; only its own files', async () => {
  const page = await fetch(`${world.base}/ui/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  const csp = page.headers.get('content-security-policy')!;
  assert.equal(csp, PAGE_CSP);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  assert.match(await page.text(), /<script type="module" src="app\.js"><\/script>/);

  const script = await fetch(`${world.base}/ui/app.js`);
  assert.equal(script.status, 200);
  assert.match(script.headers.get('content-type')!, /^text\/javascript/);
  assert.equal(script.headers.get('content-security-policy'), PAGE_CSP);
  assert.match((await fetch(`${world.base}/ui/style.css`)).headers.get('content-type')!, /^text\/css/);

  for (const path of ['/ui/nope.js', '/ui/..%2Fpackage.json', '/ui/%2e%2e%2fhttp%2fquery-server.ts'])
    assert.equal((await fetch(`${world.base}${path}`)).status, 404, path);
  for (const path of ['/', '/ui']) {
    const redirect = await fetch(`${world.base}${path}`, { redirect: 'manual' });
    assert.equal(redirect.status, 302, path);
    assert.equal(new URL(redirect.headers.get('location')!, `${world.base}${path}`).pathname, '/ui/');
  }
  assert.equal((await fetch(`${world.base}/v1/queue`)).status, 401, '/v1 still needs the key');
});
