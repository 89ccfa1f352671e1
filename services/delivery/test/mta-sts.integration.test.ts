import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSecureContext, getCACertificates } from 'node:tls';
import { QUEUE_PREFIX } from '@outpost/queue';
import { type AttemptRecord, createDeliveryLog } from '@outpost/store';
import {
  createTestCa,
  type HttpsPolicyServer,
  policyText,
  type SmtpReceiver,
  startHttpsPolicyServer,
  startSmtpReceiver,
  type TestCa,
  type TestCertificate,
} from '@outpost/testing';
import { fetchPolicyText, PolicyFetchError } from '../src/mta-sts/policy-fetcher.ts';
import { DeliveryWorld } from './helpers.ts';

/**
 * MTA-STS (RFC 8461) end to end: the loopback DNS server publishes `_mta-sts` TXT, MX and A records,
 * a loopback HTTPS server plays every `mta-sts.<domain>` policy host, and the receivers present
 * certificates from a CA the test creates (valid for their MX name, for another name, self-signed)
 * or offer no STARTTLS at all.
 */
const POLICY_HOST = '127.0.0.9';
const DOMAINS = [
  'enforced.test',
  'badcert.test',
  'unlisted.test',
  'testing.test',
  'cached.test',
  'nolisted.test',
];

let world: DeliveryWorld;
let ca: TestCa;
let policies: HttpsPolicyServer;
const receivers: SmtpReceiver[] = [];

const ENV = () => ({
  OUTPOST_MTA_STS_PORT: String(policies.port),
  OUTPOST_MTA_STS_CA_FILE: ca.certFile,
  OUTPOST_MTA_STS_TIMEOUT: '2s',
  // Every listed host gets its session in one attempt.
  OUTPOST_MAX_SESSIONS_PER_ATTEMPT: '5',
});

before(async () => {
  ca = await createTestCa();
  policies = await startHttpsPolicyServer({
    host: POLICY_HOST,
    tls: await ca.issue(DOMAINS.map((domain) => `mta-sts.${domain}`)),
  });
  world = await DeliveryWorld.start();
  await world.startDelivery(ENV());
});
after(async () => {
  await world.stop();
  await Promise.all(receivers.map((receiver) => receiver.close()));
  await policies.close();
  await ca.remove();
});

/** A receiver on `address` (the world's SMTP port) with this certificate, or without STARTTLS. */
async function receiver(address: string, name: string, tls?: TestCertificate): Promise<SmtpReceiver> {
  const started = await startSmtpReceiver({ host: address, port: world.port, name, ...(tls && { tls }) });
  receivers.push(started);
  return started;
}

/** `_mta-sts.<domain>` TXT with this id, `mta-sts.<domain>` A on the policy server, and the policy. */
function publish(domain: string, id: string, policy: Parameters<typeof policyText>[0]): void {
  world.dns.set(`_mta-sts.${domain}`, [{ type: 'TXT', data: `v=STSv1; id=${id};` }]);
  world.dns.set(`mta-sts.${domain}`, [{ type: 'A', address: POLICY_HOST }]);
  policies.set(domain, policyText(policy));
}

async function attempts(messageId: string): Promise<AttemptRecord[]> {
  const view = await createDeliveryLog(world.redis.client()).message(messageId);
  return view?.attempts ?? [];
}

const mailCommands = (target: SmtpReceiver) => target.events.filter((event) => event.stage === 'mail').length;

test('enforce, valid certificate for the MX name: delivered over verified TLS, recorded as mta-sts', async () => {
  const mx = await receiver('127.0.0.10', 'mx.enforced.test', await ca.issue(['mx.enforced.test']));
  world.mx('enforced.test', [{ name: 'mx.enforced.test', priority: 10, a: ['127.0.0.10'] }]);
  publish('enforced.test', 'e1', { mode: 'enforce', mx: ['mx.enforced.test'] });
  const message = await world.enqueue({ recipients: ['bob@enforced.test'] });
  await world.waitForMessageDone(message.id);

  const [received] = await mx.waitForMessages(1);
  assert.equal(received!.secure, true);
  const [attempt] = await attempts(message.id);
  assert.equal(attempt!.recipients[0]!.status, 'delivered');
  assert.deepEqual(attempt!.mtaSts, { mode: 'enforce', policyId: 'e1', source: 'fetched' });
  const tls = attempt!.sessions[0]!.tlsOutcome!;
  assert.equal(tls.mode, 'mta-sts');
  assert.match(tls.protocol ?? '', /^TLSv1\.[23]$/);
  assert.equal(tls.certificateVerified, true);
  assert.deepEqual(tls.mtaSts, { mode: 'enforce', policyId: 'e1' });
  assert.ok(
    policies.requests.some(
      (request) => request.domain === 'enforced.test' && request.servername === 'mta-sts.enforced.test',
    ),
    'the policy was fetched with SNI for the policy host',
  );
});

test('enforce, certificates for another name, self-signed, no STARTTLS: deferred with the MTA-STS category, no MAIL sent', async () => {
  const [wrongName, selfSigned] = await Promise.all([
    ca.issue(['somebody-else.test']),
    ca.selfSigned(['mx2.badcert.test']),
  ]);
  const hosts = [
    await receiver('127.0.0.11', 'mx1.badcert.test', wrongName),
    await receiver('127.0.0.12', 'mx2.badcert.test', selfSigned),
    await receiver('127.0.0.13', 'mx3.badcert.test'),
  ];
  world.mx('badcert.test', [
    { name: 'mx1.badcert.test', priority: 10, a: ['127.0.0.11'] },
    { name: 'mx2.badcert.test', priority: 20, a: ['127.0.0.12'] },
    { name: 'mx3.badcert.test', priority: 30, a: ['127.0.0.13'] },
  ]);
  publish('badcert.test', 'b1', { mode: 'enforce', mx: ['*.badcert.test'] });
  // A short lifetime: the deferrals end in an expiry, so the whole story is in the bounce report.
  const message = await world.enqueue({ recipients: ['bob@badcert.test'], expiresInMs: 2_500 });
  await world.waitForMessageDone(message.id);

  for (const host of hosts) {
    assert.equal(mailCommands(host), 0, `no MAIL FROM to ${host.host}`);
    assert.equal(host.messages.length, 0);
  }
  const [first] = await attempts(message.id);
  const verdict = first!.recipients[0]!;
  assert.equal(verdict.status, 'deferred');
  assert.equal(verdict.category, 'mta_sts_tls_required');
  assert.match(verdict.replyText ?? '', /^TLS required by the receiver's MTA-STS policy/);
  assert.equal(first!.mtaSts?.mode, 'enforce');
  const failures = first!.mtaSts?.failures?.join('\n') ?? '';
  assert.match(failures, /certificate of mx1\.badcert\.test does not verify \(.*ALTNAME/);
  assert.match(failures, /certificate of mx2\.badcert\.test does not verify \(.*SELF_SIGNED/i);
  assert.match(failures, /mx3\.badcert\.test does not offer STARTTLS/);
  assert.deepEqual(
    first!.sessions.map((session) => [session.host, session.tlsOutcome?.mode]),
    [
      ['mx1.badcert.test', 'none'],
      ['mx2.badcert.test', 'none'],
      ['mx3.badcert.test', 'none'],
    ],
  );
  const bounce = (await world.bounces()).find((entry) => entry.messageId === message.id);
  assert.equal(bounce?.recipients[0]?.status, 'expired');
  assert.equal(bounce?.recipients[0]?.category, 'mta_sts_tls_required');
  // The plaintext fallback for broken TLS was not armed by these failures.
  assert.equal(await world.redis.client().exists('{outpost}:tls-broken:mx1.badcert.test'), 0);
});

test('enforce, the preferred MX is not in the policy: it is skipped, the listed one gets the mail', async () => {
  const unlisted = await receiver('127.0.0.14', 'mx.rogue.test', await ca.issue(['mx.rogue.test']));
  const listed = await receiver('127.0.0.15', 'mx.unlisted.test', await ca.issue(['mx.unlisted.test']));
  world.mx('unlisted.test', [
    { name: 'mx.rogue.test', priority: 5, a: ['127.0.0.14'] },
    { name: 'mx.unlisted.test', priority: 10, a: ['127.0.0.15'] },
  ]);
  publish('unlisted.test', 'u1', { mode: 'enforce', mx: ['mx.unlisted.test'] });
  const message = await world.enqueue({ recipients: ['bob@unlisted.test'] });
  await world.waitForMessageDone(message.id);

  assert.equal((await listed.waitForMessages(1)).length, 1);
  assert.equal(unlisted.sessions, 0, 'the unlisted MX was never contacted');
  const [attempt] = await attempts(message.id);
  assert.deepEqual(attempt!.mtaSts?.unlistedMx, ['mx.rogue.test']);
  assert.equal(attempt!.mxHost, 'mx.unlisted.test');
});

test('enforce, no MX is in the policy: deferred without any connection', async () => {
  const stray = await receiver('127.0.0.16', 'mx.nolisted.test', await ca.issue(['mx.nolisted.test']));
  world.mx('nolisted.test', [{ name: 'mx.nolisted.test', priority: 10, a: ['127.0.0.16'] }]);
  publish('nolisted.test', 'n1', { mode: 'enforce', mx: ['mail.elsewhere.test'] });
  const message = await world.enqueue({ recipients: ['bob@nolisted.test'], expiresInMs: 1_000 });
  await world.waitForMessageDone(message.id);
  assert.equal(stray.sessions, 0);
  const [first] = await attempts(message.id);
  assert.equal(first!.recipients[0]!.category, 'mta_sts_tls_required');
  assert.equal(first!.recipients[0]!.enhancedStatus, '4.4.4');
  assert.equal(first!.sessions.length, 0);
});

test('testing mode, invalid certificate: delivered as usual, the failure recorded', async () => {
  const mx = await receiver('127.0.0.17', 'mx.testing.test', await ca.selfSigned(['mx.testing.test']));
  world.mx('testing.test', [{ name: 'mx.testing.test', priority: 10, a: ['127.0.0.17'] }]);
  publish('testing.test', 't1', { mode: 'testing', mx: ['mx.testing.test'] });
  const message = await world.enqueue({ recipients: ['bob@testing.test'] });
  await world.waitForMessageDone(message.id);

  const [received] = await mx.waitForMessages(1);
  assert.equal(received!.secure, true, 'opportunistic TLS still encrypts');
  const [attempt] = await attempts(message.id);
  assert.equal(attempt!.recipients[0]!.status, 'delivered');
  assert.equal(attempt!.mtaSts?.mode, 'testing');
  assert.match(
    attempt!.mtaSts?.failures?.[0] ?? '',
    /certificate of mx\.testing\.test does not verify \(.*SELF_SIGNED/i,
  );
  const tls = attempt!.sessions[0]!.tlsOutcome!;
  assert.equal(tls.mode, 'opportunistic');
  assert.equal(tls.certificateVerified, false);
  assert.deepEqual(tls.mtaSts, { mode: 'testing', policyId: 't1' });
});

test('a transport-map route skips MTA-STS: no policy lookup, delivered to the configured host', async () => {
  const relay = await receiver('127.0.0.20', 'relay.internal.test');
  publish('routed.test', 'r1', { mode: 'enforce', mx: ['mx.routed.test'] });
  await world.delivery!.stop();
  await world.startDelivery({
    ...ENV(),
    OUTPOST_TRANSPORT_MAP: `routed.test=smtp://[127.0.0.20]:${world.port}`,
  });
  const message = await world.enqueue({ recipients: ['bob@routed.test'] });
  await world.waitForMessageDone(message.id);
  assert.equal((await relay.waitForMessages(1)).length, 1);
  assert.ok(!world.dns.queries.some((query) => query.name === '_mta-sts.routed.test'), 'no TXT lookup');
  assert.ok(!policies.requests.some((request) => request.domain === 'routed.test'), 'no policy fetch');
  const [attempt] = await attempts(message.id);
  assert.equal(attempt!.mtaSts, undefined);
  assert.equal(attempt!.sessions[0]!.tlsOutcome?.mode, 'none');
});

test('a cached policy is kept in Redis across a restart and applies while the policy host is down', async () => {
  // Without the policy the preferred (unlisted) MX would get the mail: where it lands shows which applied.
  const preferred = await receiver('127.0.0.18', 'mx.other.test', await ca.issue(['mx.other.test']));
  const listed = await receiver('127.0.0.19', 'mx.cached.test', await ca.issue(['mx.cached.test']));
  world.mx('cached.test', [
    { name: 'mx.other.test', priority: 5, a: ['127.0.0.18'] },
    { name: 'mx.cached.test', priority: 10, a: ['127.0.0.19'] },
  ]);
  publish('cached.test', 'c1', { mode: 'enforce', mx: ['mx.cached.test'], maxAge: 3600 });
  const first = await world.enqueue({ recipients: ['bob@cached.test'] });
  await world.waitForMessageDone(first.id);
  assert.equal((await listed.waitForMessages(1)).length, 1);

  const key = `${QUEUE_PREFIX}:mta-sts:policy:cached.test`;
  const ttl = await world.redis.client().pttl(key);
  assert.ok(ttl > 0 && ttl <= 3_600_000, `the cached policy expires with max_age (pttl ${ttl})`);

  // A new id forces a fetch, and the policy host is gone: the cached policy must still apply.
  await world.delivery!.stop();
  await policies.close();
  world.dns.set('_mta-sts.cached.test', [{ type: 'TXT', data: 'v=STSv1; id=c2;' }]);
  await world.startDelivery(ENV());
  const second = await world.enqueue({ recipients: ['carol@cached.test'] });
  await world.waitForMessageDone(second.id);

  assert.equal((await listed.waitForMessages(2)).length, 2);
  assert.equal(preferred.messages.length, 0, 'the unlisted preferred MX got nothing');
  const [attempt] = await attempts(second.id);
  assert.equal(attempt!.mtaSts?.source, 'cache');
  assert.equal(attempt!.mtaSts?.policyId, 'c1');
  assert.match(attempt!.mtaSts?.note ?? '', /fetching policy c2 failed/);
});

describe('the policy fetcher (RFC 8461 §3.3)', () => {
  let server: HttpsPolicyServer;
  let trust: ReturnType<typeof createSecureContext>;
  const fetch = (domain: string, timeoutMs = 2_000) =>
    fetchPolicyText(domain, {
      port: server.port,
      timeoutMs,
      secureContext: trust,
      addressesOf: async () => [server.host],
    });
  const refusal = (failure: PolicyFetchError['failure']) => (error: unknown) =>
    error instanceof PolicyFetchError && error.failure === failure;

  before(async () => {
    trust = createSecureContext({ ca: [...getCACertificates('default'), ca.cert] });
    server = await startHttpsPolicyServer({
      host: '127.0.0.8',
      tls: await ca.issue([
        'mta-sts.fetch.test',
        'mta-sts.redirect.test',
        'mta-sts.big.test',
        'mta-sts.limit.test',
        'mta-sts.html.test',
        'mta-sts.slow.test',
      ]),
    });
  });
  after(() => server.close());

  test('fetches the policy file of mta-sts.<domain>', async () => {
    server.set('fetch.test', policyText({ mode: 'enforce', mx: ['mx.fetch.test'] }));
    assert.match(await fetch('fetch.test'), /^version: STSv1\r\nmode: enforce\r\nmx: mx\.fetch\.test/);
  });

  test('refuses redirects', async () => {
    server.set('redirect.test', {
      kind: 'redirect',
      location: 'https://mta-sts.fetch.test/.well-known/mta-sts.txt',
    });
    await assert.rejects(fetch('redirect.test'), refusal('redirect'));
  });

  test('refuses a body over 64 KB, and takes one of exactly 64 KB', async () => {
    server.set('big.test', { kind: 'oversized', bytes: 65 * 1024 });
    await assert.rejects(fetch('big.test'), refusal('too-large'));
    server.set('limit.test', { kind: 'oversized', bytes: 64 * 1024 });
    assert.equal((await fetch('limit.test')).length, 64 * 1024);
  });

  test('refuses another media type than text/plain, another status than 200, a certificate for another name', async () => {
    server.set('html.test', { kind: 'policy', body: 'version: STSv1', contentType: 'text/html' });
    await assert.rejects(fetch('html.test'), refusal('content-type'));
    server.set('html.test', { kind: 'policy', body: 'gone', status: 404 });
    await assert.rejects(fetch('html.test'), refusal('status'));
    server.set('unknown.test', policyText({ mode: 'enforce', mx: ['mx.unknown.test'] }));
    await assert.rejects(fetch('unknown.test'), refusal('tls'));
  });

  test('gives up after its timeout', async () => {
    server.set('slow.test', { kind: 'hang' });
    await assert.rejects(fetch('slow.test', 300), refusal('timeout'));
  });
});
