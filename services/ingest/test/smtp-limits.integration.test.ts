import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TestRedis } from '@outpost/testing';
import { openQueues, startTestIngest, totalJobs } from './helpers.ts';
import { greetedSession, type SmtpSession } from './smtp-helpers.ts';

const MiB = 1024 * 1024;

/** A full garbage collection, so RSS shows memory still in use rather than garbage not yet freed. */
const collectGarbage = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

describe('SMTP limits', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let queues: ReturnType<typeof openQueues>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startTestIngest(redis, { OUTPOST_MAX_MESSAGE_SIZE: '1MB', OUTPOST_MAX_RECIPIENTS: '100' });
    port = ingest.addresses.smtp.port;
    queues = openQueues(redis);
  });

  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  async function withTransaction(run: (session: SmtpSession) => Promise<void>): Promise<void> {
    const { session } = await greetedSession(port);
    try {
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      assert.match(await session.command('RCPT TO:<bob@example.org>'), /^250/);
      await run(session);
    } finally {
      session.close();
    }
  }

  test('a declared size over the limit is refused at MAIL: 552 5.3.4', async () => {
    const { session, ehlo } = await greetedSession(port);
    try {
      assert.match(ehlo, new RegExp(`SIZE ${MiB}`));
      assert.match(await session.command(`MAIL FROM:<alice@example.com> SIZE=${MiB + 1}`), /^552 5\.3\.4 /);
      assert.match(await session.command(`MAIL FROM:<alice@example.com> SIZE=${MiB}`), /^250/);
    } finally {
      session.close();
    }
  });

  test('an ENVID over 100 characters or outside printable US-ASCII is refused at MAIL: 501 5.5.4', async () => {
    const { session } = await greetedSession(port);
    try {
      const mail = (envid: string) => session.command(`MAIL FROM:<alice@example.com> ENVID=${envid}`);
      assert.match(await mail('x'.repeat(101)), /^501 5\.5\.4 /);
      assert.match(await mail('+C3+A9'.repeat(10)), /^501 5\.5\.4 /, 'non-ASCII, even as xtext');
      assert.match(await mail('a=b'), /^501 5\.5\.4 /, '"=" is not xtext');
      assert.match(await mail(`order+20${'x'.repeat(90)}`), /^250/);
    } finally {
      session.close();
    }
  });

  test('an undeclared 100 MB body is refused with 552 5.3.4, without holding it in memory', async () => {
    const before = await totalJobs(queues);
    await withTransaction(async (session) => {
      assert.match(await session.command('DATA'), /^354/);
      const chunk = Buffer.from(`${'x'.repeat(998)}\r\n`.repeat(64));
      collectGarbage();
      const baseline = process.memoryUsage.rss();
      let peak = baseline;
      session.write('Subject: big\r\n\r\n');
      const chunks = Math.ceil((100 * MiB) / chunk.length);
      for (let sent = 1; sent <= chunks; sent++) {
        await session.writeDrained(chunk);
        // Garbage is not growth: every 64 chunks (4 MB), collect it and measure what is still alive.
        if (sent % 64 === 0) {
          collectGarbage();
          peak = Math.max(peak, process.memoryUsage.rss());
        }
      }
      session.write('.\r\n');
      assert.match(await session.reply(30_000), /^552 5\.3\.4 /);
      const growth = (peak - baseline) / MiB;
      assert.ok(growth < 40, `RSS grew by ${growth.toFixed(1)} MiB while 100 MiB streamed through`);
      assert.match(await session.command('NOOP'), /^250/);
    });
    assert.equal(await totalJobs(queues), before);
  });

  test('10,000 RCPTs: 452 4.5.3 after the limit, in under 2 s of CPU', async () => {
    const { session } = await greetedSession(port);
    try {
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      const lines = Array.from({ length: 10_000 }, (_, i) => `RCPT TO:<r${i}@example.org>\r\n`).join('');
      const cpu = process.cpuUsage();
      session.write(lines);
      const replies = await session.replies(10_000, 20_000);
      const used = process.cpuUsage(cpu);
      const seconds = (used.user + used.system) / 1e6;
      assert.equal(replies.filter((reply) => reply.startsWith('250')).length, 100);
      assert.ok(
        replies.slice(100).every((reply) => /^452 4\.5\.3 /.test(reply)),
        'every RCPT past the limit is 452 4.5.3',
      );
      assert.ok(seconds < 2, `${seconds.toFixed(2)} s of CPU`);
    } finally {
      session.close();
    }
  });

  test('a text line over 1000 octets with its CRLF is refused: 554 5.6.0 (RFC 5321 §4.5.3.1.6)', async () => {
    const before = await totalJobs(queues);
    await withTransaction(async (session) => {
      assert.match(await session.command('DATA'), /^354/);
      session.write(`Subject: long\r\n\r\n${'y'.repeat(999)}\r\n.\r\n`);
      assert.match(await session.reply(), /^554 5\.6\.0 .*1000 octets/);
    });
    assert.equal(await totalJobs(queues), before);
    await withTransaction(async (session) => {
      assert.match(await session.command('DATA'), /^354/);
      session.write(`Subject: longest\r\n\r\n${'y'.repeat(998)}\r\n.\r\n`);
      assert.match(await session.reply(), /^250 /, 'exactly 1000 octets is fine');
    });
  });

  test('command lines: 512 octets with CRLF at most (RFC 5321 §4.5.3.1.4), then 500 5.5.2', async () => {
    const { session } = await greetedSession(port);
    try {
      const noop = (octets: number) => `NOOP ${'z'.repeat(octets - 'NOOP '.length - 2)}`;
      assert.match(await session.command(noop(512)), /^250/);
      assert.match(await session.command(noop(513)), /^500 5\.5\.2 Line too long/);
      assert.match(await session.command('NOOP'), /^250/, 'the session goes on');
      // DSN parameters lengthen RCPT (RFC 3461): an ORCPT near its 500-character maximum fits.
      assert.match(await session.command('MAIL FROM:<alice@example.com>'), /^250/);
      const orcpt = `rfc822;${'o'.repeat(470)}@example.org`;
      const rcpt = `RCPT TO:<bob@example.org> NOTIFY=FAILURE ORCPT=${orcpt}`;
      assert.ok(rcpt.length > 512);
      assert.match(await session.command(rcpt), /^250/);
    } finally {
      session.close();
    }
  });

  test('paths: local part 64, domain 255, whole path 256 octets at most; beyond, 501 5.1.3', async () => {
    const label = 'd'.repeat(60);
    await withTransaction(async (session) => {
      assert.match(await session.command(`RCPT TO:<${'l'.repeat(64)}@example.org>`), /^250/);
      assert.match(
        await session.command(`RCPT TO:<${'l'.repeat(65)}@example.org>`),
        /^501 5\.1\.3 .*local part/,
      );
      const domain256 = `${[label, label, label, label].join('.')}.${'e'.repeat(8)}.com`;
      assert.equal(domain256.length, 256);
      assert.match(await session.command(`RCPT TO:<bob@${domain256}>`), /^501 5\.1\.3 .*domain/);
      const longPath = `${'l'.repeat(64)}@${[label, label, label].join('.')}.example.org`;
      assert.ok(longPath.length + 2 > 256);
      assert.match(await session.command(`RCPT TO:<${longPath}>`), /^501 5\.1\.3 Path too long/);
    });
  });
});
