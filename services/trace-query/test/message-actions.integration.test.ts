import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newMessageId } from '@outpost/core';
import { createOperatorControls } from '@outpost/delivery';
import { type BounceJobData, controlKeys, messageBodyKey, type WebhookEvent } from '@outpost/queue';
import { createDeliveryLog } from '@outpost/store';
import type { SmtpReceiver } from '@outpost/testing';
import { DeliveryWorld, waitFor } from '../../delivery/test/helpers.ts';
import type { MessageView } from '../src/index.ts';
import { api, startQueryService } from './helpers.ts';

/**
 * hold, release, retry, delete and bounce against a real delivery worker whose retries are 20 s
 * apart, so anything attempted sooner was made to be by the action.
 */
let world: DeliveryWorld;
let receiver: SmtpReceiver;
let base: string;
let key: string;
let stopQuery: () => Promise<void>;
/** Recipients the receiver greylists for now. */
const deferring = new Set<string>();
/** Recipients whose RCPT the receiver answers slowly (keeps a job active). */
const slow = new Set<string>();

before(async () => {
  world = await DeliveryWorld.start();
  await world.startDelivery({ OUTPOST_RETRY_FIRST: '20s', OUTPOST_RETRY_MAX: '20s' });
  receiver = await world.receiver('127.0.0.3', {
    rcpt: (ctx) =>
      slow.has(ctx.address)
        ? { delayMs: 1_000 } // under the 1.5 s command timeout of FAST_ENV
        : deferring.has(ctx.address)
          ? '451 4.7.1 Greylisted, come back later'
          : undefined,
  });
  for (const domain of ['act.test', 'dom.test'])
    world.mx(domain, [{ name: 'mx.act.test', priority: 10, a: ['127.0.0.3'] }]);
  const started = await startQueryService(world, {
    env: { OUTPOST_WEBHOOK_URLS: 'http://127.0.0.1:9/hooks' },
  });
  ({ base, key } = started);
  stopQuery = () => started.service.stop();
});
after(async () => {
  await stopQuery?.();
  await world.stop();
});

const post = (path: string) =>
  api<{ ok?: boolean; summary?: string; count?: number; error?: { code: string } }>(base, key, path, 'POST');
const view = async (id: string) => (await api<MessageView>(base, key, `/v1/messages/${id}`)).body;
const statuses = async (id: string) =>
  Object.fromEntries((await view(id)).recipients.map((recipient) => [recipient.address, recipient.status]));
const delivered = (address: string) =>
  receiver.messages.filter((message) => message.to.includes(address)).length;

/** Queues a message whose recipients are greylisted once, and waits until it waits for its retry. */
async function deferredMessage(recipients: string[], expiresInMs?: number) {
  for (const address of recipients) deferring.add(address);
  const message = await world.enqueue({ recipients, ...(expiresInMs && { expiresInMs }) });
  const deliveryQueue = world.queue('delivery');
  const domains = new Set(recipients.map((address) => address.split('@')[1]));
  await waitFor(
    async () => {
      for (let index = 0; index < domains.size; index++) {
        const job = await deliveryQueue.getJob(`${message.id}.d${index}`);
        if (job?.data.attempts !== 1 || (await job.getState()) !== 'delayed') return false;
      }
      return true;
    },
    5_000,
    'the first attempt to be deferred',
  );
  return message;
}

test('hold: not attempted while held (a hold is not an attempt); release: attempted at once', async () => {
  const message = await deferredMessage(['held@act.test']);
  const held = await post(`/v1/messages/${message.id}/hold`);
  assert.equal(held.status, 200);
  assert.equal(held.body.count, 1);
  assert.deepEqual(await statuses(message.id), { 'held@act.test': 'held' });
  const shown = await view(message.id);
  assert.equal(shown.state, 'held');
  assert.equal(shown.held?.by, 'ops');
  const heldList = (
    await api<{ deliveries: Array<{ address: string; by: string }> }>(base, key, '/v1/deliveries?status=held')
  ).body;
  assert.deepEqual(
    heldList.deliveries.map((entry) => [entry.address, entry.by]),
    [['held@act.test', 'ops']],
  );
  const heldOf = async (query: string) =>
    (await api<{ deliveries: unknown[] }>(base, key, `/v1/deliveries?status=held&${query}`)).body.deliveries
      .length;
  assert.equal(await heldOf('domain=act.test'), 1);
  assert.equal(await heldOf('domain=dom.test'), 0);
  assert.equal(await heldOf('category=greylisted'), 0, 'a hold has no reply category');

  // Make it due now: the worker finds it held and puts it back without an attempt.
  deferring.delete('held@act.test');
  const sessions = receiver.sessions;
  const job = await world.queue('delivery').getJob(`${message.id}.d0`);
  await job!.promote();
  await waitFor(async () => (await job!.getState()) === 'delayed', 5_000, 'the held job to wait again');
  assert.equal(receiver.sessions, sessions, 'no session while held');
  assert.equal((await world.queue('delivery').getJob(`${message.id}.d0`))?.data.attempts, 1);

  const released = await post(`/v1/messages/${message.id}/release`);
  assert.equal(released.status, 200, JSON.stringify(released.body));
  await world.waitForMessageDone(message.id, 5_000);
  assert.equal(delivered('held@act.test'), 1);
  const final = await view(message.id);
  assert.deepEqual(
    final.actions.map((action) => [action.action, action.by]),
    [
      ['hold', 'ops'],
      ['release', 'ops'],
    ],
  );
  assert.equal(final.recipients[0]?.status, 'delivered');
  assert.equal((await post(`/v1/messages/${message.id}/release`)).status, 409, 'nothing left to release');
});

test('retry: the waiting recipients are attempted now, not in 20 s; a held message must be released first', async () => {
  const message = await deferredMessage(['retry@act.test']);
  deferring.delete('retry@act.test');
  const started = Date.now();
  assert.equal((await post(`/v1/messages/${message.id}/hold`)).status, 200);
  const refused = await post(`/v1/messages/${message.id}/retry`);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error?.code, 'held');
  await world.redis.client().del(controlKeys.heldMessage(message.id));

  const retried = await post(`/v1/messages/${message.id}/retry`);
  assert.equal(retried.status, 200);
  assert.equal(retried.body.count, 1);
  await world.waitForMessageDone(message.id, 5_000);
  assert.ok(Date.now() - started < 10_000);
  assert.equal(delivered('retry@act.test'), 1);
  assert.deepEqual(
    (await view(message.id)).actions.map((action) => action.action),
    ['hold', 'retry'],
  );
});

test('delete: the message and its jobs are gone, nobody is told, and it is on record', async () => {
  const message = await deferredMessage(['gone@act.test', 'gone@dom.test']);
  const sessions = receiver.sessions;
  const deleted = await post(`/v1/messages/${message.id}/delete`);
  assert.equal(deleted.status, 200);
  assert.equal(deleted.body.count, 2);
  assert.equal(await world.queue('message').getJob(message.id), undefined);
  assert.equal(await world.queue('delivery').getJob(`${message.id}.d0`), undefined);
  assert.equal(await world.queue('delivery').getJob(`${message.id}.d1`), undefined);
  assert.equal(await world.redis.client().exists(messageBodyKey(message.id)), 0, 'the body is gone too');
  const shown = await view(message.id);
  assert.equal(shown.state, 'deleted');
  assert.equal(shown.actions.at(-1)?.action, 'delete');
  assert.match(shown.actions.at(-1)?.detail ?? '', /gone@act\.test, gone@dom\.test/);
  assert.equal(
    (await world.bounces()).filter((report) => report.messageId === message.id).length,
    0,
    'no DSN',
  );
  assert.equal(receiver.sessions, sessions);
  assert.equal((await post(`/v1/messages/${message.id}/delete`)).body.error?.code, 'finished');
  assert.equal((await post('/v1/messages/0190aaaa-0000-7000-8000-000000000000/delete')).status, 404);
});

test('delete while an attempt is in progress is refused politely, and the attempt goes on', async () => {
  slow.add('busy@act.test');
  const message = await world.enqueue({ recipients: ['busy@act.test'] });
  const job = () => world.queue('delivery').getJob(`${message.id}.d0`);
  await waitFor(async () => (await (await job())?.getState()) === 'active', 5_000, 'the attempt to start');
  const refused = await post(`/v1/messages/${message.id}/delete`);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error?.code, 'busy');
  await world.waitForMessageDone(message.id, 5_000);
  assert.equal(delivered('busy@act.test'), 1);
});

test('bounce: waiting recipients are returned to the sender as failed, removed, and reported to the webhooks', async () => {
  const message = await deferredMessage(['back@act.test', 'back2@act.test']);
  const bounced = await post(`/v1/messages/${message.id}/bounce`);
  assert.equal(bounced.status, 200);
  assert.equal(bounced.body.count, 2);
  assert.equal(await world.queue('message').getJob(message.id), undefined, 'the flow is removed');
  assert.equal(await world.redis.client().exists(messageBodyKey(message.id)), 0, 'with the body');
  const reports = (await world.bounces('failed')).filter(
    (report: BounceJobData) => report.messageId === message.id,
  );
  assert.equal(reports.length, 1);
  assert.deepEqual(
    reports[0]!.recipients.map((recipient) => [
      recipient.address,
      recipient.action,
      recipient.status,
      recipient.enhancedStatus,
      recipient.diagnostic,
    ]),
    [
      ['back@act.test', 'failed', 'bounced', '5.0.0', 'returned by operator ops'],
      ['back2@act.test', 'failed', 'bounced', '5.0.0', 'returned by operator ops'],
    ],
  );
  assert.match(reports[0]!.originalHeaders, /^Subject: test/m);
  assert.deepEqual(await statuses(message.id), { 'back@act.test': 'bounced', 'back2@act.test': 'bounced' });
  const events = (await world.queue('webhook').getJobs(['waiting', 'delayed']))
    .map((job) => job.data as WebhookEvent)
    .filter((event) => event.messageId === message.id && event.event === 'bounced');
  assert.deepEqual(events.map((event) => event.recipient).sort(), ['back2@act.test', 'back@act.test']);
});

test('a domain: hold keeps all its queued mail, release sends it now, and both are on each message', async () => {
  const first = await deferredMessage(['a@dom.test']);
  const second = await deferredMessage(['b@dom.test']);
  deferring.delete('a@dom.test');
  deferring.delete('b@dom.test');
  const held = await post('/v1/domains/DOM.test/hold');
  assert.equal(held.status, 200);
  assert.equal(held.body.count, 2);
  assert.deepEqual(await statuses(first.id), { 'a@dom.test': 'held' });
  const queue = (await api<{ heldDomains: string[] }>(base, key, '/v1/queue')).body;
  assert.deepEqual(queue.heldDomains, ['dom.test']);
  const heldByDomain = (
    await api<{ deliveries: Array<{ address: string }> }>(
      base,
      key,
      '/v1/deliveries?status=held&domain=dom.test',
    )
  ).body.deliveries.map((entry) => entry.address);
  assert.deepEqual(heldByDomain.sort(), ['a@dom.test', 'b@dom.test'], "the domain hold's queued jobs");
  const heldCount = async (domain: string) =>
    (await api<{ deliveries: unknown[] }>(base, key, `/v1/deliveries?status=held&domain=${domain}`)).body
      .deliveries.length;
  assert.equal(await heldCount('DOM.test'), 2, 'the domain as the operator types it');
  assert.equal((await post('/v1/domains/dom.test/retry')).body.error?.code, 'held');

  const released = await post('/v1/domains/dom.test/release');
  assert.equal(released.status, 200);
  assert.equal(released.body.count, 2);
  await world.waitForMessageDone(first.id, 5_000);
  await world.waitForMessageDone(second.id, 5_000);
  assert.equal(delivered('a@dom.test') + delivered('b@dom.test'), 2);
  assert.deepEqual(
    (await view(second.id)).actions.map((action) => [action.action, action.detail]),
    [
      ['hold', 'domain dom.test'],
      ['release', 'domain dom.test'],
    ],
  );
  assert.equal((await post('/v1/domains/dom.test/release')).body.error?.code, 'not_held');
});

test('a held message keeps its lifetime clock: it expires at the end of it, held, without an attempt', async () => {
  // Held from the start (the key as the hold action sets it, before the message is queued).
  const id = newMessageId();
  await world.redis.client().set(controlKeys.heldMessage(id), JSON.stringify({ by: 'ops', at: Date.now() }));
  const message = await world.enqueue({ id, recipients: ['late@act.test'], expiresInMs: 1_500 });
  assert.equal((await post(`/v1/messages/${id}/hold`)).status, 200);
  // The hold is looked at again when the lifetime ends (not a minute later): the message expires.
  await world.waitForMessageDone(id, Math.max(message.expiresAt - Date.now(), 0) + 5_000);
  const released = await post(`/v1/messages/${id}/release`);
  assert.equal(released.status, 409, 'nothing left to release');
  assert.equal(released.body.error?.code, 'finished');
  assert.equal(receiver.messages.filter((entry) => entry.to.includes('late@act.test')).length, 0);
  assert.ok(!receiver.events.some((event) => event.address === 'late@act.test'), 'never attempted');
  assert.deepEqual(await statuses(id), { 'late@act.test': 'expired' });
  const log = createDeliveryLog(world.redis.client());
  assert.equal((await log.deliveries({ status: 'expired', recipient: 'late@act.test' })).entries.length, 1);
});

test('a hold lifted by another tool (outpost destination resume) no longer shows as held', async () => {
  const message = await deferredMessage(['x@dom.test']);
  assert.equal((await post('/v1/domains/dom.test/hold')).status, 200);
  assert.deepEqual(await statuses(message.id), { 'x@dom.test': 'held' });
  const controls = createOperatorControls(world.redis.client());
  await controls.resumeDomain('dom.test');
  await controls.close();
  assert.deepEqual(await statuses(message.id), { 'x@dom.test': 'deferred' });
  assert.equal((await post(`/v1/messages/${message.id}/delete`)).status, 200);
});
