import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import tlsOptions from 'smtp-server/lib/tls-options.js';
import { FINAL_DOT, firstConnection, proxiedReceiver } from './support/proxied-receiver.ts';
import { assertNoViolations, ReliabilityWorld, waitFor } from './support/world.ts';

// Faults of the remote side that need the byte-level fault proxy: a reset in the middle of the
// message, a tarpit (one byte at a time) on the banner and on the final reply, and a line slipped
// into the reply to STARTTLS. Already covered elsewhere (services/delivery/test/
// replies.integration.test.ts): 421 at the greeting, a drop at the DATA command, a silent final
// reply, store-then-reset, 5xx after DATA, 5xx for one recipient of three, 452 splitting, expiry.

describe('remote faults through the fault proxy (one delivery worker, bounce service, in process)', () => {
  // A world per scenario, so that each ends with the invariants over its own messages only.
  let world: ReliabilityWorld;
  beforeEach(async () => {
    world = await ReliabilityWorld.start();
    await world.startBounce();
    // The RFC's 10-minute end-of-data timeout, scaled down like the others.
    await world.startDelivery({
      OUTPOST_TLS_BROKEN_MEMORY: '1s',
      OUTPOST_SMTP_END_OF_DATA_TIMEOUT: '2s',
      OUTPOST_SHUTDOWN_GRACE: '1s',
    });
  });
  afterEach(async () => {
    await world.stop();
  });

  test('a reset in the middle of the message: retried, delivered once, not a possible duplicate', async () => {
    const { receiver, proxy } = await proxiedReceiver(world, {
      domain: 'cut.test',
      host: '127.0.0.2',
      proxyHost: '127.0.0.12',
      plan: firstConnection({
        toServer: { trigger: { armedBy: /^354 /m, afterBytes: 100 }, action: { kind: 'reset' } },
      }),
    });
    await world.enqueue([
      {
        recipients: ['bob@cut.test'],
        body: `Subject: long\r\n\r\n${'a line of the message\r\n'.repeat(50)}`,
      },
    ]);
    await waitFor(() => receiver.messages.length === 1, 10_000, 'the retry to deliver');
    await world.settled(10_000);
    assert.ok(proxy.events.some((event) => event.kind === 'fault' && event.detail === 'reset'));
    const report = await world.check();
    assertNoViolations(report);
    assert.equal(report.summary.duplicates, 0);
  });

  test('421 right after the final dot: retried, delivered once, not a possible duplicate', async () => {
    const receiver = await world.receiver('127.0.0.3', {
      data: (ctx) => (ctx.attempt === 1 ? '421 4.3.2 Shutting down' : undefined),
    });
    world.mx('closing.test', '127.0.0.3');
    await world.enqueue([{ recipients: ['bob@closing.test', 'carol@closing.test'] }]);
    await waitFor(() => receiver.messages.length === 1, 10_000, 'the retry to deliver');
    await world.settled(10_000);
    assertNoViolations(await world.check());
    assert.deepEqual(receiver.messages[0]!.to, ['bob@closing.test', 'carol@closing.test']);
  });

  test('the final reply trickles in one byte at a time: the end-of-data timeout ends it, the duplicate is counted', async () => {
    const { receiver } = await proxiedReceiver(world, {
      domain: 'slowreply.test',
      host: '127.0.0.4',
      proxyHost: '127.0.0.14',
      plan: firstConnection({
        toClient: { trigger: { armedBy: FINAL_DOT }, action: { kind: 'tarpit', everyMs: 400 } },
      }),
    });
    await world.enqueue([{ recipients: ['bob@slowreply.test'] }]);
    await waitFor(() => receiver.messages.length === 2, 15_000, 'the message to be sent again');
    await world.settled(10_000);
    const report = await world.check({
      duplicates: { window: 'end-of-data reply tarpitted past its timeout', faults: 1 },
    });
    assertNoViolations(report);
    assert.equal(report.summary.duplicates, 1, 'the receiver got it twice, and the product says so');
  });

  test('the banner trickles in one byte at a time: the greeting timeout ends the session (RFC 5321 §4.5.3.2.1)', async () => {
    const { receiver, proxy } = await proxiedReceiver(world, {
      domain: 'slowbanner.test',
      host: '127.0.0.5',
      proxyHost: '127.0.0.15',
      // 1 byte every 400 ms: within the 1.5 s inactivity timeout, far past the 700 ms greeting one.
      plan: firstConnection({ toClient: { action: { kind: 'tarpit', everyMs: 400 } } }),
    });
    await world.enqueue([{ recipients: ['bob@slowbanner.test'] }]);
    await waitFor(() => receiver.messages.length === 1, 10_000, 'delivery on a later connection');
    await world.settled(10_000);
    assertNoViolations(await world.check());
    assert.ok(proxy.forwarded(1, 'toClient') < 10, 'the tarpitted banner was given up on early');
    assert.equal(receiver.messages[0]!.session, 2);
  });

  test('the EHLO reply trickles in one byte at a time: the session is given up in bounded time', async () => {
    const { receiver } = await proxiedReceiver(world, {
      domain: 'slowehlo.test',
      host: '127.0.0.7',
      proxyHost: '127.0.0.17',
      plan: firstConnection({
        toClient: { trigger: { armedBy: /^EHLO /im }, action: { kind: 'tarpit', everyMs: 400 } },
      }),
    });
    await world.enqueue([{ recipients: ['bob@slowehlo.test'] }]);
    // The EHLO reply's whole-reply deadline (1.5 s here) ends the session; the retry delivers.
    await waitFor(() => receiver.messages.length === 1, 6_000, 'delivery on a later connection');
    await world.settled(5_000);
    assertNoViolations(await world.check());
  });

  test('a line slipped in after the reply to STARTTLS is never read as a reply inside TLS', async () => {
    const { key, cert } = tlsOptions();
    const { receiver, proxy } = await proxiedReceiver(world, {
      domain: 'injected.test',
      host: '127.0.0.6',
      proxyHost: '127.0.0.16',
      tls: { key: String(key), cert: String(cert) },
      // Right after "220 Ready to start TLS", in plaintext: what a man in the middle would add.
      plan: firstConnection({
        toClient: {
          trigger: { armedBy: /STARTTLS\r\n/i, afterPattern: /^220 [^\r\n]*\r\n/m },
          action: { kind: 'inject', data: '550 5.1.1 injected: no such user\r\n' },
        },
      }),
    });
    await world.enqueue([{ recipients: ['bob@injected.test'] }]);
    await waitFor(() => receiver.messages.length >= 1, 15_000, 'delivery');
    await world.settled(15_000);
    const report = await world.check();
    assertNoViolations(report);
    assert.ok(
      proxy.events.some((event) => event.kind === 'fault'),
      'the line was injected',
    );
    assert.equal(receiver.messages.length, 1, 'delivered once');
    // The injected bytes break the handshake: the first session ends, the next one is used (in
    // plaintext, by the TLS fallback: opportunistic TLS, RFC 7435, protects nothing against an
    // attacker on the path, who could as well strip STARTTLS from the EHLO reply).
    assert.equal(receiver.messages[0]!.session, 2);
    assert.equal(report.summary.dsns, 0, 'the injected 550 bounced nobody');
  });
});
