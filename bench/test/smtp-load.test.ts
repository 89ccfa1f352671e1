import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildMessage, dataSection, dotStuff, RECIPIENT_DOMAINS } from '../src/smtp-load.ts';
import { percentile } from '../src/stats.ts';

test('dot-stuffing doubles a leading dot on every line, and only there', () => {
  assert.equal(dotStuff('.a\r\nb.c\r\n.\r\n..d\r\n'), '..a\r\nb.c\r\n..\r\n...d\r\n');
  assert.equal(dataSection('x\r\n.'), 'x\r\n..\r\n.\r\n');
});

test('messages are exactly the requested size, with 1-3 recipients at the known domains', () => {
  for (let index = 0; index < 500; index++) {
    for (const size of [2_048, 1_000, 777]) {
      const message = buildMessage(index, size);
      assert.equal(message.size, size);
      assert.ok(message.recipients >= 1 && message.recipients <= 3);
      const envelope = message.envelope.toString('latin1');
      const rcpts = [...envelope.matchAll(/^RCPT TO:<[^@]+@([^>]+)>\r\n/gm)].map((match) => match[1]);
      assert.equal(rcpts.length, message.recipients);
      for (const domain of rcpts) assert.ok((RECIPIENT_DOMAINS as readonly string[]).includes(domain!));
      assert.equal(message.domains, new Set(rcpts).size);
      assert.ok(envelope.startsWith('MAIL FROM:<') && envelope.endsWith('DATA\r\n'));
      const data = message.data.toString('latin1');
      assert.ok(data.endsWith('\r\n.\r\n'));
      // Undo the stuffing: what the server stores is the message as built.
      const unstuffed = data.slice(0, -3).replace(/(^|\r\n)\.\./g, '$1.');
      assert.equal(unstuffed.length, size);
      assert.ok(!/(^|\r\n)\.[^.]/.test(data.slice(0, -3)), 'no unstuffed leading dot');
    }
  }
});

test('the workload mixes 1, 2 and 3 recipients and several domains', () => {
  const counts = new Map<number, number>();
  for (let index = 0; index < 3_000; index++) {
    const { recipients } = buildMessage(index, 2_048);
    counts.set(recipients, (counts.get(recipients) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [1, 2, 3]);
});

test('nearest-rank percentiles', () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 99), 99);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});
