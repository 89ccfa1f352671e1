import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveryEntry } from '@outpost/store';
import { formatDeliveries, terminalSafe } from '../src/text-views.ts';

test('a remote reply cannot drive the terminal: control characters are shown as escapes', () => {
  // A receiver that answers 550 but makes the line read "250 OK" (erase line, carriage return).
  const entry: DeliveryEntry = {
    attemptId: 'a1',
    messageId: 'm1',
    domain: 'evil.test',
    attempt: 1,
    time: Date.UTC(2026, 10, 29),
    address: 'bob@evil.test',
    verdict: 'bounced',
    status: 'bounced',
    enhancedStatus: '5.1.1',
    category: 'no_such_user',
    replyCode: 550,
    replyText: '\x1b[2K\r250 2.0.0 OK \x1b]52;c;ZXZpbA==\x07',
  };
  const text = formatDeliveries([entry]);
  assert.doesNotMatch(text, /[\x1b\r\x07]/, 'no escape, carriage return or bell reaches the terminal');
  assert.match(text, /\\x1b\[2K\\x0d250 2\.0\.0 OK \\x1b\]52;c;ZXZpbA==\\x07/);
  assert.equal(terminalSafe('tab\there\nnext line'), 'tab\there\nnext line', 'tab and newline stay');
  assert.equal(terminalSafe('C1 \x9b csi'), 'C1 \\x9b csi');
});
