import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import type { Redis } from 'ioredis';
import { redisScript } from '../src/index.ts';

// Scripts go by SHA1; their text only when Redis lacks them (first use, after SCRIPT FLUSH).

let server: TestRedis;
let redis: Redis;
before(async () => {
  server = await TestRedis.start({ appendonly: false });
  redis = server.client();
});
after(async () => {
  await server.stop();
});

const INCREMENT = redisScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`);

async function scriptCalls(): Promise<{ eval: number; evalsha: number }> {
  const info = await redis.info('commandstats');
  const calls = (name: string) => Number(info.match(new RegExp(`cmdstat_${name}:calls=(\\d+)`))?.[1] ?? 0);
  return { eval: calls('eval'), evalsha: calls('evalsha') };
}

test('the text goes once; later calls send only the SHA1', async () => {
  await redis.config('RESETSTAT');
  for (let i = 0; i < 5; i++) await INCREMENT.run(redis, ['counter'], [2]);
  assert.equal(await redis.get('counter'), '10');
  // First call: EVALSHA answered NOSCRIPT (nothing ran), then EVAL; the other four: EVALSHA alone.
  assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 5 });
});

test('after SCRIPT FLUSH (as after a restart) the script is sent again and runs exactly once', async () => {
  await redis.set('counter', '0');
  await redis.script('FLUSH');
  await redis.config('RESETSTAT');
  assert.equal(await INCREMENT.run(redis, ['counter'], [3]), 3);
  assert.equal(await redis.get('counter'), '3');
  assert.deepEqual(await scriptCalls(), { eval: 1, evalsha: 1 });
});

test("a script's own error reaches the caller and is not retried as text", async () => {
  const failing = redisScript(`return redis.error_reply('NOPE refused by the script')`);
  await failing.run(redis, [], []).catch(() => {});
  await redis.config('RESETSTAT');
  await assert.rejects(failing.run(redis, [], []), /NOPE refused by the script/);
  assert.deepEqual(await scriptCalls(), { eval: 0, evalsha: 1 });
});
