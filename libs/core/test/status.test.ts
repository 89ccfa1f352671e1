import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAILED_STATUSES, isFinalStatus, isRecipientStatus, RECIPIENT_STATUSES } from '../src/index.ts';

test('the recipient status vocabulary', () => {
  assert.deepEqual(
    [...RECIPIENT_STATUSES],
    ['queued', 'deferred', 'delivered', 'bounced', 'expired', 'held'],
  );
  assert.deepEqual([...FAILED_STATUSES], ['bounced', 'expired']);
  assert.equal(isRecipientStatus('failed'), false, '"failed" is a query, not a status');
  assert.equal(isFinalStatus('deferred'), false);
  assert.equal(isFinalStatus('held'), false);
  assert.equal(isFinalStatus('expired'), true);
});
