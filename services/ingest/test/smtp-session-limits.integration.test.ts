import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import { startTestIngest } from './helpers.ts';
import { greetedSession, SmtpSession } from './smtp-helpers.ts';

const IDLE_MS = 600;
const SESSION_MS = 1_000;
const MAX_CLIENTS = 3;

describe('SMTP session limits', () => {
  let redis: TestRedis;
  let ingest: Awaited<ReturnType<typeof startTestIngest>>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startTestIngest(redis, {
      OUTPOST_SMTP_IDLE_TIMEOUT: `${IDLE_MS}ms`,
      OUTPOST_SMTP_SESSION_TIMEOUT: `${SESSION_MS}ms`,
      OUTPOST_SMTP_MAX_CLIENTS: String(MAX_CLIENTS),
    });
    port = ingest.addresses.smtp.port;
  });

  after(async () => {
    await ingest.stop();
    await redis.stop();
  });

  test('an idle client is sent 421 and disconnected after the idle timeout', async () => {
    const { session } = await greetedSession(port);
    try {
      const started = Date.now();
      assert.match(await session.reply(5_000), /^421 /);
      await session.waitClosed();
      const waited = Date.now() - started;
      assert.ok(waited >= IDLE_MS - 50 && waited < IDLE_MS + 1_000, `closed after ${waited} ms`);
    } finally {
      session.close();
    }
  });

  test('a busy session is ended with 421 4.4.2 once it outlives the session timeout', async () => {
    const started = Date.now();
    const { session } = await greetedSession(port);
    try {
      // Never idle: a NOOP every 100 ms, each answered, until the server ends the session.
      let reply = '';
      while (!session.closed && Date.now() - started < SESSION_MS + 3_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        reply = await session.command('NOOP');
        if (!reply.startsWith('250')) break;
      }
      assert.match(reply, /^421 4\.4\.2 /);
      await session.waitClosed();
      const lasted = Date.now() - started;
      assert.ok(lasted >= SESSION_MS && lasted < SESSION_MS + 1_500, `ended after ${lasted} ms`);
    } finally {
      session.close();
    }
  });

  test(`beyond ${MAX_CLIENTS} concurrent clients a new one is answered 421`, async () => {
    const sessions = await Promise.all(
      Array.from({ length: MAX_CLIENTS }, async () => (await greetedSession(port)).session),
    );
    try {
      const extra = await SmtpSession.open(port);
      try {
        assert.match(await extra.reply(), /^421 /);
        await extra.waitClosed();
      } finally {
        extra.close();
      }
      // Each of the others is still served.
      for (const session of sessions) assert.match(await session.command('NOOP'), /^250/);
      // Once one leaves, a newcomer is welcome again.
      sessions.pop()!.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const { session: newcomer } = await greetedSession(port);
      newcomer.close();
    } finally {
      for (const session of sessions) session.close();
    }
  });
});
