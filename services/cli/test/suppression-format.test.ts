import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSuppressions } from '../src/suppression-commands.ts';

test('the suppression list as a table, one entry a line', () => {
  const text = formatSuppressions([
    {
      address: 'gone@example.com',
      category: 'no_such_user',
      enhancedStatus: '5.1.1',
      diagnostic: '550 5.1.1  No such\nuser',
      source: 'bounce',
      at: 0,
      until: Date.UTC(2026, 11, 27),
    },
  ]);
  assert.equal(
    text,
    'ADDRESS\tCATEGORY\tSTATUS\tSOURCE\tUNTIL\tREASON\n' +
      'gone@example.com\tno_such_user\t5.1.1\tbounce\t2026-12-27T00:00:00.000Z\t550 5.1.1 No such user\n',
  );
});
