import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawSmtpClient, spawnOutpost, TestRedis } from '@outpost/testing';
import { openQueues, totalJobs } from './helpers.ts';

let redis: TestRedis;
before(async () => {
  redis = await TestRedis.start();
});
after(async () => {
  await redis.stop();
});

test('kill -9 of the ingest process in the middle of DATA: no 250 and nothing usable left in Redis', async () => {
  const ingest = spawnOutpost('ingest', {
    OUTPOST_ENV: 'development',
    OUTPOST_HOSTNAME: 'mx.outpost.test',
    REDIS_URL: redis.url,
    OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
    OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
    LOG_LEVEL: 'info',
  });
  const queues = openQueues(redis);
  try {
    const ready = await ingest.waitForLog((line) => line.msg === 'ingest listening');
    const port = (ready.smtp as { port: number }).port;
    const client = await RawSmtpClient.connect(port);
    assert.match(await client.reply(), /^220 /);
    await client.command('EHLO client.test');
    assert.match(await client.command('MAIL FROM:<alice@example.com>'), /^250/);
    assert.match(await client.command('RCPT TO:<bob@example.org>'), /^250/);
    assert.match(await client.command('DATA'), /^354/);
    client.write('Subject: half\r\n\r\nthe first half of the body\r\n');
    await new Promise((resolve) => setTimeout(resolve, 200));

    await ingest.kill('SIGKILL');
    await assert.rejects(client.reply(2_000), /connection closed/, 'the client never gets a 250');
    assert.equal(await totalJobs(queues), 0);
    const keys = await redis.client().keys('{outpost}:message:*-*');
    assert.deepEqual(keys, [], 'no message data left behind');
  } finally {
    await ingest.kill();
    await queues.close();
  }
});
