import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redisPerFile } from '@outpost/testing';
import { redisScript } from '../src/index.ts';

// Scripts go by SHA1; their text only when Redis lacks them (first use, after SCRIPT FLUSH).

const redisServer = redisPerFile({ appendonly: false });

const INCREMENT = redisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);

async function scriptCalls(): Promise<{ eval: number; evalsha: number }> {
  const info = await redisServer.client.info('commandstats');
  const calls = (name: string) => Number(info.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
  return { eval: calls('eval'), evalsha: calls('evalsha') };
}

test('the text goes once; later calls send only the SHA1', async () => {
  await redisServer.client.config('RESETSTAT');
  for (let i = 0; i < 5; i++) await INCREMENT.run(redisServer.client, ['counter'], [2]);
  assert.equal(await redisServer.client.get('counter'), '10');
  // First call: EVALSHA answered NOSCRIPT (nothing ran), then EVAL; the other four: EVALSHA alone.
  assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 5 });
});

test('after SCRIPT FLUSH (as after a restart) the script is sent again and runs exactly once', async () => {
  await redisServer.client.set('counter', '0');
  await redisServer.client.script('FLUSH');
  await redisServer.client.config('RESETSTAT');
  assert.equal(await INCREMENT.run(redisServer.client, ['counter'], [3]), 3);
  assert.equal(await redisServer.client.get('counter'), '3');
  assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 1 });
});

test("a script's own error reaches the caller and is not retried as text", async () => {
  const failing = redisScript(`return redis.error_reply('NOPE refused by the script')`);
  await failing.run(redisServer.client, [], []).catch(() => {});
  await redisServer.client.config('RESETSTAT');
  await assert.rejects(failing.run(redisServer.client, [], []), /NOPE refused by the script/);
  assert.deepEqual(await scriptCalls(), { eval: 0, evalsha: 1 });
});
