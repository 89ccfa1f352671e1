import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, type DeliveryEvent } from '@outpost/core';
import { deferredEverything, type RecipientOutcome } from '../src/attempt-delivery.ts';

const reply = (
  code: number,
  text: string,
  stage: 'mail' | 'rcpt' | 'end-of-data' = 'rcpt',
): DeliveryEvent => ({
  kind: 'reply',
  stage,
  reply: { code, text },
});

const outcome = (address: string, event: DeliveryEvent): RecipientOutcome => ({
  recipient: { address },
  event,
  classification: classify(event),
});

test('every recipient answered 4xx by the server: the whole attempt was deferred', () => {
  assert.equal(
    deferredEverything([
      outcome('a@x.test', reply(450, 'Mail system is Busy', 'mail')),
      outcome('b@x.test', reply(451, 'try again later')),
    ]),
    true,
  );
});

test('a delivery, a permanent refusal or a network failure is not a blanket deferral', () => {
  const busy = outcome('a@x.test', reply(450, 'busy'));
  assert.equal(deferredEverything([busy, outcome('b@x.test', reply(250, 'ok', 'end-of-data'))]), false);
  assert.equal(deferredEverything([busy, outcome('b@x.test', reply(550, 'no such user'))]), false);
  const dropped: DeliveryEvent = { kind: 'network', stage: 'rcpt', failure: 'reset', detail: 'ECONNRESET' };
  assert.equal(deferredEverything([busy, outcome('b@x.test', dropped)]), false);
  assert.equal(deferredEverything([]), false, 'no recipient, nothing learnt');
});
