import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createDeliveryLog, type DeliveryEntry } from '@outpost/store';
import { freePort } from '@outpost/testing';
import { DeliveryWorld, waitFor } from '../../delivery/test/helpers.ts';
import type { MessageView } from '../src/index.ts';
import { api, enqueueTraced, startAuthRelay, startQueryService } from './helpers.ts';

/**
 * One run that leaves delivered, deferred, bounced and expired recipients (delivery is then stopped,
 * so nothing moves), then the questions an operator asks about it.
 */
let world: DeliveryWorld;
let relay: Awaited<ReturnType<typeof startAuthRelay>>;
let base: string;
let key: string;
let stopQuery: () => Promise<void>;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const ids = { mixed: '', expired: '', deferred: '', relayed: '' };

before(async () => {
  world = await DeliveryWorld.start();
  const relayPort = await freePort('127.0.0.5');
  relay = await startAuthRelay('127.0.0.5', relayPort);
  await world.startDelivery({
    OUTPOST_TRANSPORT_MAP: `auth.test=smtp://relayuser:S3cretPass@relay.test:${relayPort}`,
  });
  world.dns.set('relay.test', [{ type: 'A', address: '127.0.0.5' }]);
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) =>
      ctx.address.startsWith('nobody@')
        ? '550 5.1.1 <nobody@query.test>: No such user here'
        : ctx.address.startsWith('later@') || ctx.address.startsWith('expire@')
          ? '451 4.7.1 Greylisted, come back later'
          : undefined,
  });
  world.mx('query.test', [{ name: 'mx.query.test', priority: 10, a: ['127.0.0.2'] }]);
  world.mx('slow.test', [{ name: 'mx.query.test', priority: 10, a: ['127.0.0.2'] }]);

  ids.mixed = (
    await enqueueTraced(world, ['bob@query.test', 'nobody@query.test'], `00-${TRACE_ID}-00f067aa0ba902b7-01`)
  ).id;
  ids.expired = (await world.enqueue({ recipients: ['expire@query.test'], expiresInMs: 1_500 })).id;
  ids.deferred = (await world.enqueue({ recipients: ['later@slow.test'] })).id;
  ids.relayed = (await world.enqueue({ recipients: ['ok@auth.test', 'no@auth.test'] })).id;
  for (const id of [ids.mixed, ids.expired, ids.relayed]) await world.waitForMessageDone(id);
  const log = createDeliveryLog(world.redis.client());
  await waitFor(
    async () => ((await log.message(ids.deferred))?.attempts.length ?? 0) > 0,
    5_000,
    'a deferral',
  );
  // Freeze the world: no more attempts from here on.
  await world.delivery?.stop();
  world.delivery = undefined;

  const started = await startQueryService(world, {
    env: { OUTPOST_TRACE_UI_URL: 'https://traces.test/ui/' },
  });
  ({ base, key } = started);
  stopQuery = () => started.service.stop();
});
after(async () => {
  await stopQuery?.();
  await relay?.close();
  await world.stop();
});

const get = <T = Record<string, unknown>>(path: string) => api<T>(base, key, path);
type Page = { deliveries: DeliveryEntry[]; cursor?: string };
const pairs = (entries: DeliveryEntry[]) => entries.map((entry) => `${entry.address} ${entry.status}`);

test('operator keys are required: none or a wrong one is 401; /healthz is open', async () => {
  const none = await api(base, undefined, '/v1/queue');
  assert.equal(none.status, 401);
  assert.deepEqual((none.body.error as { code: string }).code, 'unauthorized');
  assert.equal((await api(base, 'outpost_op_not-a-real-key', '/v1/queue')).status, 401);
  assert.equal((await api(base, key, '/v1/queue', 'GET')).status, 200);
  assert.equal((await api(base, undefined, `/v1/messages/${ids.mixed}/delete`, 'POST')).status, 401);
  assert.equal((await api(base, undefined, '/healthz')).status, 200);
  assert.ok(
    (await get<MessageView>(`/v1/messages/${ids.mixed}`)).body.recipients,
    'the key was not consumed',
  );
});

test('the key is required however the path is written: percent-encoded, or an absolute-form target', async () => {
  // The router decodes "%76" to "v" (and reads the path out of an absolute URL) before matching.
  assert.equal((await api(base, undefined, '/%761/queue')).status, 401);
  assert.equal((await api(base, undefined, `/%761/messages/${ids.mixed}`)).status, 401);
  assert.equal((await api(base, undefined, '/%761/suppressions/x@example.org', 'DELETE')).status, 401);
  const { hostname, port } = new URL(base);
  const statusLine = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write(
        `GET http://${hostname}:${port}/v1/queue HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
  assert.match(statusLine, /^HTTP\/1\.1 401 /);
});

test('a message: envelope, statuses, every attempt with its transcript, the trace and its link', async () => {
  const { status, body: view } = await get<MessageView>(`/v1/messages/${ids.mixed}`);
  assert.equal(status, 200);
  assert.equal(view.state, 'finished');
  assert.equal(view.envelope?.sender, 'alice@example.com');
  assert.deepEqual(view.envelope?.recipients, ['bob@query.test', 'nobody@query.test']);
  assert.deepEqual(
    view.recipients.map((recipient) => [recipient.address, recipient.status, recipient.enhancedStatus]),
    [
      ['bob@query.test', 'delivered', '2.0.0'],
      ['nobody@query.test', 'bounced', '5.1.1'],
    ],
  );
  assert.equal(view.attempts.length, 1);
  const attempt = view.attempts[0]!;
  assert.equal(attempt.mxHost, 'mx.query.test');
  const transcript = attempt.sessions[0]!.transcript!.map((line) => `${line.direction} ${line.text}`).join(
    '\n',
  );
  assert.match(transcript, /^S 550 5\.1\.1 <nobody@query\.test>: No such user here$/m);
  assert.match(transcript, /^S 250 .*/m, "the accepted recipient's reply too");
  assert.doesNotMatch(transcript, /Hello\./, 'never the body');
  assert.equal(view.traceId, TRACE_ID);
  assert.equal(view.traceUrl, `https://traces.test/ui/trace/${TRACE_ID}`);
  assert.equal(attempt.traceId, TRACE_ID);
  assert.equal((await get(`/v1/messages/0190aaaa-0000-7000-8000-000000000000`)).status, 404);
  assert.equal((await get('/v1/messages/not%20an%20id')).status, 400);
});

test('a transcript through an authenticated relay has the replies, not the AUTH secret nor the body', async () => {
  assert.ok(
    relay.logins.some((login) => login.includes('S3cretPass')),
    'the relay did get the password',
  );
  const { body: view } = await get<MessageView>(`/v1/messages/${ids.relayed}`);
  const text = JSON.stringify(view);
  assert.match(text, /550 5\.7\.1 Relaying denied for this recipient/);
  assert.match(text, /250 2\.0\.0 Queued on the relay/);
  assert.match(text, /"text":"AUTH PLAIN /, 'the AUTH command is in the transcript, masked');
  for (const secret of [
    'S3cretPass',
    Buffer.from('S3cretPass').toString('base64'),
    Buffer.from('\0relayuser\0S3cretPass').toString('base64'),
    'Hello.',
  ])
    assert.ok(!text.includes(secret), `no ${JSON.stringify(secret)} in the view`);
});

test("deliveries by status return exactly the run's outcomes, newest first", async () => {
  // Sorted: attempts of different messages may finish in any order (newest-first is checked below).
  const all = async (status: string) =>
    pairs((await get<Page>(`/v1/deliveries?status=${status}&limit=500`)).body.deliveries).sort();
  assert.deepEqual(await all('failed'), [
    'expire@query.test expired',
    'no@auth.test bounced',
    'nobody@query.test bounced',
  ]);
  assert.deepEqual((await all('delivered')).sort(), ['bob@query.test delivered', 'ok@auth.test delivered']);
  assert.deepEqual(await all('expired'), ['expire@query.test expired']);
  assert.deepEqual(await all('bounced'), ['no@auth.test bounced', 'nobody@query.test bounced']);
  const deferred = await all('deferred');
  assert.ok(deferred.length >= 2);
  assert.deepEqual(new Set(deferred), new Set(['later@slow.test deferred', 'expire@query.test deferred']));
  assert.deepEqual(await all('held'), [], 'nothing is held');
  const newestFirst = (await get<Page>('/v1/deliveries?limit=500')).body.deliveries.map(
    (entry) => entry.time,
  );
  assert.deepEqual(
    newestFirst,
    [...newestFirst].sort((a, b) => b - a),
  );
});

test('filters: domain, recipient, category, reply code, time; bad values are 400', async () => {
  const list = async (query: string) => pairs((await get<Page>(`/v1/deliveries?${query}`)).body.deliveries);
  assert.deepEqual(new Set(await list('domain=slow.test')), new Set(['later@slow.test deferred']));
  assert.deepEqual(await list('recipient=BOB@query.test'), ['bob@query.test delivered']);
  assert.deepEqual(await list('category=no_such_user'), ['nobody@query.test bounced']);
  assert.deepEqual((await list('code=550')).sort(), ['no@auth.test bounced', 'nobody@query.test bounced']);
  assert.deepEqual(await list('status=failed&domain=query.test'), [
    'expire@query.test expired',
    'nobody@query.test bounced',
  ]);
  assert.deepEqual(await list('since=1h&status=delivered&domain=auth.test'), ['ok@auth.test delivered']);
  assert.deepEqual(await list(`until=${Date.now() - 3_600_000}`), []);
  assert.deepEqual(await list(`since=${new Date(Date.now() + 60_000).toISOString()}`), []);
  for (const bad of ['status=lost', 'code=abc', 'limit=0', 'since=yesterday', 'colour=blue'])
    assert.equal((await get(`/v1/deliveries?${bad}`)).status, 400, bad);
});

test('pagination: pages of 2 walk the whole list once, in order', async () => {
  const whole = (await get<Page>('/v1/deliveries?limit=500')).body.deliveries;
  assert.ok(whole.length >= 8);
  const walked: DeliveryEntry[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = (await get<Page>(`/v1/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
    assert.ok(page.deliveries.length <= 2);
    walked.push(...page.deliveries);
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < 50);
  const keyOf = (entry: DeliveryEntry) => `${entry.attemptId}/${entry.address}`;
  assert.deepEqual(walked.map(keyOf), whole.map(keyOf));
});

test('a queued message, the queue and the destinations', async () => {
  const { body: view } = await get<MessageView>(`/v1/messages/${ids.deferred}`);
  assert.equal(view.state, 'queued');
  assert.deepEqual(
    view.recipients.map((recipient) => [recipient.address, recipient.status, recipient.category]),
    [['later@slow.test', 'deferred', 'greylisted']],
  );
  assert.equal(view.jobs.length, 1);
  assert.equal(view.jobs[0]!.state, 'delayed');
  assert.ok(view.jobs[0]!.nextAttemptAt! > view.attempts[0]!.time, 'the next try is after the last');

  const { body: queue } = await get<{
    deliveryPaused: boolean;
    queues: Record<string, Record<string, number>>;
    oldestMessage: { messageId: string };
    heldMessages: number;
  }>('/v1/queue');
  assert.equal(queue.deliveryPaused, false);
  assert.equal(queue.queues.delivery!.delayed, 1);
  // A one-domain message is its solo delivery job alone: no message job waits for it.
  assert.equal(queue.queues.message!['waiting-children'], 0);
  assert.equal(queue.oldestMessage.messageId, ids.deferred);
  assert.equal(queue.heldMessages, 0);

  const { body } = await get<{ destinations: Array<{ destination: string; window: number }> }>(
    '/v1/destinations',
  );
  assert.ok(
    body.destinations.some((entry) => entry.destination.startsWith('mx.query.test:')),
    JSON.stringify(body.destinations),
  );
});

test('the suppression list: add, list and remove over the API, with who added it', async () => {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const added = await fetch(`${base}/v1/suppressions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ address: 'Complained@Example.ORG', for: '7d', note: 'asked to stop' }),
  });
  assert.equal(added.status, 201);
  const entry = (await added.json()) as {
    address: string;
    source: string;
    diagnostic: string;
    until: number;
  };
  assert.equal(entry.address, 'Complained@example.org');
  assert.equal(entry.source, 'operator');
  assert.match(entry.diagnostic, /asked to stop \(by /);
  assert.ok(entry.until > Date.now() + 6 * 86_400_000);
  const listed = await get<{ suppressions: Array<{ address: string }> }>('/v1/suppressions');
  assert.ok(listed.body.suppressions.some((item) => item.address === 'complained@example.org'));
  const bad = await fetch(`${base}/v1/suppressions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ address: 'nope' }),
  });
  assert.equal(bad.status, 400);
  const auth = { authorization: `Bearer ${key}` };
  const removed = await fetch(`${base}/v1/suppressions/complained@example.org`, {
    method: 'DELETE',
    headers: auth,
  });
  assert.equal(removed.status, 204);
  const again = await fetch(`${base}/v1/suppressions/complained@example.org`, {
    method: 'DELETE',
    headers: auth,
  });
  assert.equal(again.status, 404);
  assert.equal((await api(base, undefined, '/v1/suppressions')).status, 401);
});
