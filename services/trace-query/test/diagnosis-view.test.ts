import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainCategory } from '@outpost/core';
import type { DeliveryEntry } from '@outpost/store';
import {
  diagnoseEntry,
  diagnoseMessageView,
  diagnoseOutcome,
  heldDiagnosis,
  type MessageView,
} from '../src/index.ts';

test('a failure is explained by its category: cause and what to do', () => {
  const { cause, operatorAction } = explainCategory('mailbox_full');
  assert.deepEqual(diagnoseOutcome('deferred', 'mailbox_full'), {
    category: 'mailbox_full',
    explanation: cause,
    action: operatorAction,
  });
  assert.deepEqual(
    diagnoseOutcome('bounced', 'no_such_user')?.explanation,
    explainCategory('no_such_user').cause,
  );
  assert.match(
    diagnoseOutcome('expired', 'greylisted')!.explanation,
    /^The queue lifetime ran out.*greylisting/,
  );
  assert.equal(diagnoseOutcome('bounced', 'not_a_category')?.explanation, explainCategory('unknown').cause);
  for (const status of ['delivered', 'queued', 'held'] as const)
    assert.equal(diagnoseOutcome(status, 'unknown'), undefined, status);
});

test('a hold is no reply: an operator paused it, and this is how to resume', () => {
  const domain = heldDiagnosis({ heldBy: 'domain', domain: 'example.org', by: 'alice' });
  assert.equal(domain.category, 'held');
  assert.match(
    domain.explanation,
    /^Delivery paused by an operator \(alice\): mail for example\.org is held/,
  );
  assert.equal(
    domain.action,
    'Resume it with `outpost destination resume example.org` or POST /v1/domains/example.org/release.',
  );
  const message = heldDiagnosis({ heldBy: 'message', messageId: 'm-1', by: 'unknown' });
  assert.match(message.explanation, /^Delivery paused by an operator: this message is held/);
  assert.match(message.action, /`outpost message release m-1` or POST \/v1\/messages\/m-1\/release/);

  const entry = diagnoseEntry({
    messageId: 'm-2',
    domain: 'held.test',
    address: 'a@held.test',
    status: 'held',
    heldBy: 'message',
    by: 'bob',
    time: 1,
    attempt: 0,
  });
  assert.match(entry.diagnosis!.action, /outpost message release m-2/);
  const delivered = { status: 'delivered', category: 'delivered' } as DeliveryEntry;
  assert.equal(diagnoseEntry(delivered).diagnosis, undefined);
});

test('a message view: held by the message or by its domain, and an operator bounce says so', () => {
  const view = {
    messageId: 'm-3',
    state: 'queued',
    recipients: [
      { address: 'a@one.test', status: 'held', attempts: 0, updatedAt: 1, by: 'carol' },
      { address: 'b@two.test', status: 'bounced', attempts: 1, updatedAt: 1, category: 'unknown', by: 'dan' },
      { address: 'c@two.test', status: 'bounced', attempts: 1, updatedAt: 1, category: 'mailbox_full' },
    ],
    jobs: [],
    attempts: [],
    actions: [],
  } as unknown as MessageView;
  const [held, returned, full] = diagnoseMessageView(view).recipients;
  assert.match(held!.diagnosis!.action, /outpost destination resume one\.test/);
  assert.match(returned!.diagnosis!.explanation, /^Returned to the sender by an operator \(dan\)/);
  assert.equal(full!.diagnosis!.category, 'mailbox_full');
  const byMessage = diagnoseMessageView({ ...view, held: { by: 'erin', at: 1 } }).recipients[0]!;
  assert.match(byMessage.diagnosis!.action, /outpost message release m-3/);
  assert.match(byMessage.diagnosis!.explanation, /\(erin\)/);
});
