import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestRedis } from '@outpost/testing';
import type { Ingest } from '../src/index.ts';
import {
  greetedSession,
  plainToken,
  type SmtpSession,
  startLoggedIngest,
  writeUsersFile,
} from './smtp-helpers.ts';

const SLOW_AFTER = 3;
const ADDRESS_LIMIT = 6;
const USER_LIMIT = 5;
// Large enough that an unthrottled login (one scrypt check) stays well below one step even under load.
const DELAY_STEP_MS = 500;

describe('AUTH abuse', () => {
  let redis: TestRedis;
  let ingest: Ingest;
  let logText: () => string;
  let port: number;
  const passwordsTried: string[] = [];

  before(async () => {
    redis = await TestRedis.start();
    const usersFile = await writeUsersFile(redis.dir, [
      { name: 'alice', password: 'alice-pass', senders: '*' },
      { name: 'carol', password: 'carol-pass', senders: '*' },
      { name: 'dave', password: 'dave-pass', senders: '*' },
    ]);
    ({ ingest, logText } = await startLoggedIngest(redis, {
      OUTPOST_USERS_FILE: usersFile,
      OUTPOST_SMTP_LISTEN: '0.0.0.0:0',
      OUTPOST_TRUSTED_NETWORKS: '127.0.0.1/32',
      OUTPOST_AUTH_SLOW_AFTER: String(SLOW_AFTER),
      OUTPOST_AUTH_MAX_FAILURES_PER_ADDRESS: String(ADDRESS_LIMIT),
      OUTPOST_AUTH_MAX_FAILURES_PER_USER: String(USER_LIMIT),
      OUTPOST_AUTH_FAILURE_DELAY: `${DELAY_STEP_MS}ms`,
    }));
    port = ingest.addresses.smtp.port;
  });

  after(async () => {
    await ingest.stop();
    await redis.stop();
  });

  /** A session from `address`, upgraded to TLS and greeted again, ready for AUTH. */
  async function tlsSession(address: string): Promise<SmtpSession> {
    const { session } = await greetedSession(port, { localAddress: address });
    await session.startTls();
    await session.command('EHLO client.test');
    return session;
  }

  async function timedAuth(session: SmtpSession, user: string, password: string) {
    if (password.includes('wrong')) passwordsTried.push(password);
    const started = Date.now();
    const reply = await session.command(`AUTH PLAIN ${plainToken(user, password)}`, 15_000);
    return { reply, ms: Date.now() - started };
  }

  test('30 bad logins from one address: slowed, then 421 4.7.0; another address is still served', async () => {
    const attacker = '127.0.0.5';
    const results: Array<{ reply: string; ms: number }> = [];
    // Up to the first refusal in one session: slowing is measured attempt by attempt.
    const session = await tlsSession(attacker);
    try {
      for (let attempt = 1; attempt <= ADDRESS_LIMIT + 1; attempt++) {
        // A password spray: a different user name each time, so only the address counter grows.
        results.push(await timedAuth(session, `guess${attempt}`, `wrong-password-${attempt}`));
      }
      await session.waitClosed();
    } finally {
      session.close();
    }
    // The rest reconnect, all at once.
    const rest = await Promise.all(
      Array.from({ length: 30 - results.length }, async (_, index) => {
        const again = await tlsSession(attacker);
        try {
          const attempt = results.length + index + 1;
          return await timedAuth(again, `guess${attempt}`, `wrong-password-${attempt}`);
        } finally {
          again.close();
        }
      }),
    );
    results.push(...rest);
    const codes = results.map((result) => result.reply.slice(0, 3));
    assert.deepEqual(codes, [...Array(ADDRESS_LIMIT).fill('535'), ...Array(30 - ADDRESS_LIMIT).fill('421')]);
    assert.match(results[ADDRESS_LIMIT]!.reply, /^421 4\.7\.0 /);
    const fastest = Math.max(...results.slice(0, SLOW_AFTER).map((result) => result.ms));
    for (let attempt = SLOW_AFTER + 1; attempt <= ADDRESS_LIMIT; attempt++) {
      const expected = (attempt - SLOW_AFTER) * DELAY_STEP_MS;
      const { ms } = results[attempt - 1]!;
      assert.ok(ms >= expected, `attempt ${attempt} answered after ${ms} ms, expected >= ${expected}`);
      assert.ok(
        ms > fastest,
        `attempt ${attempt} (${ms} ms) slower than the unthrottled ones (${fastest} ms)`,
      );
    }

    // Blocked: even the right password is refused from there, without being checked.
    const blocked = await tlsSession(attacker);
    try {
      assert.match((await timedAuth(blocked, 'alice', 'alice-pass')).reply, /^421 4\.7\.0 /);
    } finally {
      blocked.close();
    }
    // Another client is served at once.
    const other = await tlsSession('127.0.0.6');
    try {
      const { reply, ms } = await timedAuth(other, 'alice', 'alice-pass');
      assert.match(reply, /^235 /);
      assert.ok(ms < DELAY_STEP_MS, `served in ${ms} ms`);
    } finally {
      other.close();
    }
  });

  test('failures for one user from many addresses: that user slowed, then refused; others unaffected', async () => {
    const results: Array<{ reply: string; ms: number }> = [];
    for (let attempt = 1; attempt <= USER_LIMIT; attempt++) {
      const session = await tlsSession(`127.0.1.${attempt}`);
      try {
        results.push(await timedAuth(session, 'carol', `wrong-carol-${attempt}`));
      } finally {
        session.close();
      }
    }
    assert.deepEqual(
      results.map((result) => result.reply.slice(0, 3)),
      Array(USER_LIMIT).fill('535'),
    );
    assert.ok(results[SLOW_AFTER]!.ms >= DELAY_STEP_MS, `attempt ${SLOW_AFTER + 1} was slowed`);
    const fresh = await tlsSession('127.0.1.100');
    try {
      assert.match((await timedAuth(fresh, 'carol', 'carol-pass')).reply, /^421 4\.7\.0 /);
    } finally {
      fresh.close();
    }
    const neighbour = await tlsSession('127.0.1.101');
    try {
      assert.match((await timedAuth(neighbour, 'dave', 'dave-pass')).reply, /^235 /);
    } finally {
      neighbour.close();
    }
  });

  test('no password or AUTH token ever reaches the log', () => {
    const log = logText();
    assert.match(log, /authentication failed/, 'failures are logged');
    assert.match(log, /too many failures/, 'refusals are logged');
    assert.ok(passwordsTried.length > 0);
    for (const password of [...passwordsTried, 'alice-pass', 'carol-pass', 'dave-pass']) {
      assert.ok(!log.includes(password), `"${password}" appears in the log`);
    }
    for (const [user, password] of [
      ['alice', 'alice-pass'],
      ['guess1', 'wrong-password-1'],
    ] as const) {
      assert.ok(!log.includes(plainToken(user, password)), `the AUTH PLAIN token of ${user} appears`);
    }
  });
});
