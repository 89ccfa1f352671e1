import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisPerFile } from '@outpost/testing';
import { createTlsMemory } from '../src/tls-memory.ts';

// The TLS-broken memory is asked before every transaction: this process trusts its last answer for
// a few seconds (never longer than the memory itself), other workers' marks show up after that.

const redisServer = redisPerFile({ appendonly: false });

const existsCalls = async () =>
  Number((await redisServer.client.info('commandstats')).match(/cmdstat_exists:calls=(\d+)/)?.[1] ?? 0);

test('answers are reused for 5 s; another worker’s mark is seen after that', async () => {
  let now = 0;
  const here = createTlsMemory(redisServer.client, 86_400_000, () => now);
  const elsewhere = createTlsMemory(redisServer.server.client(), 86_400_000);
  await redisServer.client.config('RESETSTAT');
  assert.equal(await here.isBroken('MX.Local.test'), false);
  assert.equal(await here.isBroken('mx.local.test'), false);
  assert.equal(await existsCalls(), 1, 'the second question was answered locally');

  await elsewhere.markBroken('mx.local.test');
  now += 4_000;
  assert.equal(await here.isBroken('mx.local.test'), false, 'still the answer read 4 s ago');
  now += 1_001;
  assert.equal(await here.isBroken('mx.local.test'), true);
  assert.equal(await existsCalls(), 2);
});

test('a host this worker marks is broken here at once; a memory shorter than 5 s is honoured', async () => {
  let now = 0;
  const here = createTlsMemory(redisServer.client, 1_000, () => now);
  assert.equal(await here.isBroken('mx.short.test'), false);
  await here.markBroken('mx.short.test');
  assert.equal(await here.isBroken('mx.short.test'), true, 'no wait for the local answer to age');
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // Redis forgets the mark (PX 1000)
  now += 1_001;
  assert.equal(await here.isBroken('mx.short.test'), false, 'forgotten with the memory, not 5 s later');
});
