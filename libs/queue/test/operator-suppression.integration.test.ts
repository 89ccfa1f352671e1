import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import { addSuppression, findSuppressed, listSuppressions, removeSuppression } from '../src/index.ts';

let redis: TestRedis;
before(async () => {
  redis = await TestRedis.start();
});
after(async () => {
  await redis.stop();
});

test('add, list and remove an address by hand', async () => {
  const client = redis.client();
  const now = Date.now();
  const entry = await addSuppression(client, {
    address: '<Gone@Example.COM>',
    durationMs: 3_600_000,
    note: 'asked us to stop',
    now,
  });
  assert.equal(entry.address, 'Gone@example.com', 'brackets dropped, domain lower-cased');
  assert.equal(entry.source, 'operator');
  assert.equal(entry.until, now + 3_600_000);

  const listed = await listSuppressions(client);
  assert.deepEqual(
    listed.map((item) => [item.address, item.source, item.diagnostic]),
    [['gone@example.com', 'operator', 'suppressed by an operator: asked us to stop']],
  );
  // Delivery looks addresses up as they are written in the envelope.
  assert.equal((await findSuppressed(client, ['gone@example.com'])).size, 1);

  assert.equal(await removeSuppression(client, 'gone@example.com'), true);
  assert.equal(await removeSuppression(client, 'gone@example.com'), false, 'already gone');
  assert.deepEqual(await listSuppressions(client), []);
});

test('nonsense is refused', async () => {
  await assert.rejects(
    addSuppression(redis.client(), { address: 'not an address', durationMs: 1_000 }),
    /not an email address/,
  );
  await assert.rejects(
    addSuppression(redis.client(), { address: 'a@b.test', durationMs: 0 }),
    /longer than 0/,
  );
});
