import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, type DeliveryEvent } from '@outpost/core';
import { deferredEverything, type RecipientOutcome } from '../src/attempt-delivery.ts';

/** A reply event; an enhanced status at the start of the text is split off, as the parser does. */
const reply = (
  code: number,
  text: string,
  stage: 'mail' | 'rcpt' | 'end-of-data' = 'rcpt',
): DeliveryEvent => {
  const [, enhanced, rest] = text.match(/^(\d\.\d{1,3}\.\d{1,3}) (.*)$/) ?? [];
  return { kind: 'reply', stage, reply: enhanced && rest ? { code, enhanced, text: rest } : { code, text } };
};

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

test('a temporary reply about one mailbox or address says nothing about the destination', () => {
  // RFC 3463: X.2.x is the mailbox's status (full, disabled), X.1.x the address's.
  assert.equal(deferredEverything([outcome('a@x.test', reply(452, '4.2.2 Mailbox full'))]), false);
  assert.equal(deferredEverything([outcome('a@x.test', reply(450, '4.2.0 Greylisted, see later'))]), false);
  assert.equal(
    deferredEverything([outcome('a@x.test', reply(450, '4.1.1 Recipient unknown for now'))]),
    false,
  );
  assert.equal(deferredEverything([outcome('a@x.test', reply(421, '4.3.2 System not accepting'))]), true);
  assert.equal(deferredEverything([outcome('a@x.test', reply(451, '4.7.1 Rate limited'))]), true);
});
