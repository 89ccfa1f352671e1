import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig, loadWebhookConfig } from '@outpost/config';
import type { WebhookEvent } from '@outpost/queue';
import { createLogger } from '@outpost/telemetry';
import { DeliveryWorld, waitFor } from '../../delivery/test/helpers.ts';
import { startWebhookSender, verifyWebhookSignature, type WebhookSender } from '../src/index.ts';

const SECRET = 'test-secret-0123456789';

/** A receiver as an application would write one: it checks every signature, and answers by `answer`. */
interface Hook {
  url: string;
  /** Every request: its event id, whether the signature verified, and the event. */
  requests: Array<{ id: string; valid: boolean; event: WebhookEvent; signature: string; body: Buffer }>;
  accepted: WebhookEvent[];
  close(): Promise<void>;
}

async function startHook(
  path: string,
  answer: (triesOfThisEvent: number) => 'ok' | 'fail' | 'hang',
): Promise<Hook> {
  const requests: Hook['requests'] = [];
  const accepted: WebhookEvent[] = [];
  const server: Server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const id = String(request.headers['outpost-event-id']);
    const event = JSON.parse(body.toString()) as WebhookEvent;
    const signature = String(request.headers['outpost-signature']);
    const valid = verifyWebhookSignature(SECRET, signature, body, 300);
    requests.push({ id, valid, event, signature, body });
    const tries = requests.filter((entry) => entry.id === id).length;
    const what = request.url === path && valid ? answer(tries) : 'fail';
    if (what === 'hang') return; // never answers: the sender's timeout must act
    if (what === 'ok') accepted.push(event);
    response.writeHead(what === 'ok' ? 204 : 503).end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    requests,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let world: DeliveryWorld;
let flaky: Hook;
let steady: Hook;
let sender: WebhookSender;

before(async () => {
  world = await DeliveryWorld.start();
  // The flaky one fails each event twice, then hangs once, before taking it.
  flaky = await startHook('/flaky', (tries) => (tries <= 2 ? 'fail' : tries === 3 ? 'hang' : 'ok'));
  steady = await startHook('/steady', () => 'ok');
  const env = world.env({
    OUTPOST_WEBHOOK_URLS: `${flaky.url},${steady.url}`,
    OUTPOST_WEBHOOK_SECRET: SECRET,
    OUTPOST_WEBHOOK_TIMEOUT: '400ms',
    OUTPOST_WEBHOOK_RETRY_FIRST: '100ms',
    OUTPOST_WEBHOOK_RETRY_MAX: '400ms',
  });
  await world.startDelivery(env);
  sender = await startWebhookSender({
    config: loadConfig(env),
    webhookConfig: loadWebhookConfig(env),
    logger: createLogger({ service: 'webhooks', level: 'silent' }),
  });
});
after(async () => {
  await sender?.stop();
  await flaky?.close();
  await steady?.close();
  await world.stop();
});

test('each outcome reaches every URL signed; a failing URL is retried until it takes it, the others get it once', async () => {
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) => (ctx.address.startsWith('nobody') ? '550 5.1.1 No such user' : undefined),
  });
  world.mx('hooked.test', [{ name: 'mx.hooked.test', priority: 10, a: ['127.0.0.2'] }]);
  const message = await world.enqueue({ recipients: ['bob@hooked.test', 'nobody@hooked.test'] });
  await waitFor(() => flaky.accepted.length === 2, 15_000, 'the flaky receiver to take both events');

  const outcome = (events: WebhookEvent[]) =>
    events.map((event) => [event.messageId, event.recipient, event.event, event.enhancedStatus]).sort();
  const expected = [
    [message.id, 'bob@hooked.test', 'delivered', '2.0.0'],
    [message.id, 'nobody@hooked.test', 'bounced', '5.1.1'],
  ];
  assert.deepEqual(outcome(flaky.accepted), expected);
  assert.deepEqual(outcome(steady.accepted), expected);
  assert.equal(steady.requests.length, 2, 'a URL that took an event is not sent it again');
  assert.ok(
    [...flaky.requests, ...steady.requests].every((request) => request.valid),
    'every request is signed',
  );
  const triesPerEvent = Object.values(Object.groupBy(flaky.requests, (request) => request.id)).map(
    (requests) => requests?.length,
  );
  assert.deepEqual(triesPerEvent, [4, 4], 'two failures and a timeout, then success');
  await waitFor(
    async () =>
      (await world.queue('webhook').getJobCounts('completed', 'delayed', 'waiting', 'active')).delayed === 0,
    2_000,
    'no retry left',
  );
});

test('a received request verifies only with the shared secret and its exact bytes', () => {
  const { signature, body } = steady.requests[0]!;
  assert.match(signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhookSignature(SECRET, signature, body), true);
  assert.equal(verifyWebhookSignature('not-the-secret-at-all', signature, body), false);
  const reserialized = JSON.stringify(JSON.parse(body.toString()), null, 1);
  assert.equal(
    verifyWebhookSignature(SECRET, signature, reserialized),
    false,
    'verify the raw body, not re-encoded JSON',
  );
});
