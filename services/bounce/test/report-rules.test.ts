import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BounceJobData, ReportedRecipient } from '@outpost/queue';
import { recipientsToReport, shouldSuppress } from '../src/report-rules.ts';

const failed = (address: string, changes: Partial<ReportedRecipient> = {}): ReportedRecipient => ({
  address,
  action: 'failed',
  status: 'bounced',
  enhancedStatus: '5.1.1',
  category: 'no_such_user',
  at: 0,
  ...changes,
});

const report = (
  sender: string,
  event: BounceJobData['event'],
  recipients: ReportedRecipient[],
): BounceJobData => ({
  v: 1,
  event,
  messageId: 'm',
  sender,
  dsn: {},
  arrivalTime: 0,
  headers: { messageId: '<m@x>' },
  originalHeaders: '',
  smtpUtf8: false,
  recipients,
});

test('each recipient’s NOTIFY decides whether it is in the DSN', () => {
  const recipients = [
    failed('default@x.test'),
    failed('never@x.test', { notify: ['NEVER'] }),
    failed('failure@x.test', { notify: ['FAILURE'] }),
    failed('delay-only@x.test', { notify: ['DELAY'] }),
  ];
  assert.deepEqual(
    recipientsToReport(report('alice@a.test', 'failed', recipients)).map((entry) => entry.address),
    ['default@x.test', 'failure@x.test'],
  );
});

test('mail from <> gets no DSN: only its failures are kept, whatever NOTIFY says, for the record', () => {
  const recipients = [failed('a@x.test', { notify: ['NEVER'] }), failed('b@x.test')];
  assert.equal(recipientsToReport(report('', 'failed', recipients)).length, 2);
  const late = [failed('a@x.test', { action: 'delayed', status: 'deferred' })];
  assert.deepEqual(recipientsToReport(report('', 'delayed', late)), []);
});

test('only permanent, attempted failures of a listed category are suppressed', () => {
  const categories = ['no_such_user'];
  assert.equal(shouldSuppress(failed('a@x.test'), categories), true);
  assert.equal(
    shouldSuppress(failed('a@x.test', { category: 'mailbox_full', enhancedStatus: '5.2.2' }), categories),
    false,
  );
  assert.equal(
    shouldSuppress(failed('a@x.test', { status: 'expired', enhancedStatus: '4.4.7' }), categories),
    false,
  );
  assert.equal(shouldSuppress(failed('a@x.test', { reason: 'suppressed' }), categories), false);
  assert.equal(shouldSuppress(failed('a@x.test', { enhancedStatus: '4.1.1' }), categories), false);
  assert.equal(shouldSuppress(failed('a@x.test'), []), false);
});
