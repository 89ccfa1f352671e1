import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDnsServer, submitMessage, type TestDnsServer, TestRedis } from '@outpost/testing';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { createDkimSigner, generateDkimKey, hashPassword, loadDkimKeys, writeDkimKey } from '../src/index.ts';
import { openQueues, queuedIdOf, startTestIngest } from './helpers.ts';

let dns: TestDnsServer;
let dir: string;
before(async () => {
  dns = await startDnsServer();
  dir = await mkdtemp(join(tmpdir(), 'outpost-dkim-'));
});
after(async () => {
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

/** mailauth's verifier, asking the loopback DNS server for the published key. */
async function verify(message: Buffer) {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([dns.address]);
  const result = await dkimVerify(message, {
    resolver: async (name: string, type: string) => {
      if (type !== 'TXT') throw Object.assign(new Error('unexpected'), { code: 'ENOTFOUND' });
      return resolver.resolveTxt(name);
    },
  });
  return result.results.map((entry) => ({
    status: entry.status.result,
    domain: entry.signingDomain,
    ...(entry.status.comment && { comment: entry.status.comment }),
  }));
}

const MESSAGE = Buffer.from(
  'From: Alice <alice@signed.test>\r\nTo: bob@example.org\r\nSubject: signed\r\nDate: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <m1@signed.test>\r\n\r\nHello Bob.\r\n',
);

for (const type of ['rsa', 'ed25519'] as const) {
  test(`a ${type} signature verifies against the published key; an altered body fails`, async () => {
    const key = generateDkimKey('signed.test', `s-${type}`, type);
    dns.set(key.dnsName, [{ type: 'TXT', data: key.txt }]);
    const ring = await loadDkimKeys({
      inline: `signed.test:s-${type}:${Buffer.from(key.privateKeyPem).toString('base64')}`,
    });
    const sign = await createDkimSigner(ring, { useParentDomain: false });
    const { message, outcome } = await sign(MESSAGE, 'Alice <alice@signed.test>');
    assert.deepEqual(
      outcome.signatures.map((entry) => `${entry.domain}/${entry.selector}`),
      [`signed.test/s-${type}`],
    );
    assert.match(
      message.toString(),
      /^DKIM-Signature: v=1; a=(rsa|ed25519)-sha256; c=relaxed\/relaxed; d=signed\.test;/,
    );
    assert.deepEqual(await verify(message), [{ status: 'pass', domain: 'signed.test' }]);
    const altered = Buffer.from(message.toString().replace('Hello Bob.', 'Hello Eve.'));
    // mailauth reports a body that no longer matches as neutral with this comment (not pass).
    assert.deepEqual(await verify(altered), [
      { status: 'neutral', domain: 'signed.test', comment: 'body hash did not verify' },
    ]);
  });
}

test('From and Subject are oversigned: a second From added later breaks the signature', async () => {
  const key = generateDkimKey('signed.test', 'over', 'ed25519');
  dns.set(key.dnsName, [{ type: 'TXT', data: key.txt }]);
  const sign = await createDkimSigner(
    await loadDkimKeys({ inline: `signed.test:over:${Buffer.from(key.privateKeyPem).toString('base64')}` }),
    {
      useParentDomain: false,
    },
  );
  const { message } = await sign(MESSAGE, 'alice@signed.test');
  const text = message.toString();
  const withSecondFrom = Buffer.from(text.replace('\r\n\r\n', '\r\nFrom: ceo@signed.test\r\n\r\n'));
  assert.notEqual((await verify(withSecondFrom))[0]?.status, 'pass');
});

test('a domain without a key goes unsigned and says why; a parent key is used only when allowed', async () => {
  const key = generateDkimKey('signed.test', 'parent', 'ed25519');
  const ring = await loadDkimKeys({
    inline: `signed.test:parent:${Buffer.from(key.privateKeyPem).toString('base64')}`,
  });
  const strict = await (await createDkimSigner(ring, { useParentDomain: false }))(
    MESSAGE,
    'x@news.signed.test',
  );
  assert.deepEqual(strict.outcome, { signatures: [], note: 'no DKIM key for news.signed.test' });
  assert.equal(strict.message, MESSAGE);
  const parent = await (await createDkimSigner(ring, { useParentDomain: true }))(
    MESSAGE,
    'x@news.signed.test',
  );
  assert.equal(parent.outcome.signatures[0]?.domain, 'signed.test');
});

test('ingest signs before storing: the queued message verifies, and the record says which key signed', async () => {
  const key = generateDkimKey('signed.test', 'ingest', 'rsa');
  await writeDkimKey(dir, key);
  dns.set(key.dnsName, [{ type: 'TXT', data: key.txt }]);
  const redis = await TestRedis.start();
  const ingest = await startTestIngest(redis, {
    OUTPOST_DKIM_KEYS_DIR: dir,
    OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
  });
  const queues = openQueues(redis);
  try {
    const signed = await submitMessage({
      port: ingest.addresses.smtp.port,
      from: 'alice@signed.test',
      to: ['bob@example.org'],
      message: MESSAGE,
    });
    const data = await queues.stored(queuedIdOf(signed.response));
    const stored = data.body;
    assert.match(stored.toString(), /^DKIM-Signature: /, 'the signature is on top, above our Received:');
    assert.deepEqual(await verify(stored), [{ status: 'pass', domain: 'signed.test' }]);
    assert.deepEqual(
      data.dkim?.signatures.map((entry) => entry.selector),
      ['ingest'],
    );
    const unsigned = await submitMessage({
      port: ingest.addresses.smtp.port,
      from: 'alice@other.test',
      to: ['bob@example.org'],
      message: 'From: alice@other.test\r\nSubject: x\r\n\r\nx\r\n',
    });
    const other = await queues.envelope(queuedIdOf(unsigned.response));
    assert.deepEqual(other.dkim, { signatures: [], note: 'no DKIM key for other.test' });
  } finally {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  }
});

test('ingest signs only a From: the client may send as: not a user borrowing another domain, not inbound mail', async () => {
  const key = generateDkimKey('signed.test', 'owned', 'ed25519');
  const keysDir = await mkdtemp(join(tmpdir(), 'outpost-dkim-owned-'));
  await writeDkimKey(keysDir, key);
  const redis = await TestRedis.start();
  const usersFile = join(redis.dir, 'users');
  await writeFile(usersFile, `mallory:${await hashPassword('s3cret')}:@mallory.test\n`);
  // 127.0.0.2 is not trusted: a session from it authenticates, or hands in mail for inbound.test.
  const ingest = await startTestIngest(redis, {
    OUTPOST_DKIM_KEYS_DIR: keysDir,
    OUTPOST_USERS_FILE: usersFile,
    OUTPOST_TRUSTED_NETWORKS: '127.0.0.1/32',
    OUTPOST_RELAY_DOMAINS: 'inbound.test',
    OUTPOST_SMTP_LISTEN: '0.0.0.0:0',
  });
  const queues = openQueues(redis);
  const spoofed = 'From: CEO <ceo@signed.test>\r\nTo: bob@example.org\r\nSubject: pay now\r\n\r\nx\r\n';
  try {
    const borrowed = await submitMessage({
      localAddress: '127.0.0.2',
      port: ingest.addresses.smtp.port,
      auth: { user: 'mallory', pass: 's3cret' },
      from: 'mallory@mallory.test',
      to: ['bob@example.org'],
      message: spoofed,
    });
    const fromUser = await queues.stored(queuedIdOf(borrowed.response));
    assert.doesNotMatch(fromUser.body.toString(), /DKIM-Signature:/);
    assert.deepEqual(fromUser.dkim, {
      signatures: [],
      note: 'not signed: the client may not send as ceo@signed.test',
    });
    const inbound = await submitMessage({
      localAddress: '127.0.0.2',
      port: ingest.addresses.smtp.port,
      from: 'someone@elsewhere.test',
      to: ['bob@inbound.test'],
      message: spoofed,
    });
    const fromOutside = await queues.stored(queuedIdOf(inbound.response));
    assert.doesNotMatch(fromOutside.body.toString(), /DKIM-Signature:/, 'inbound mail is not signed');
    // The same message from a trusted network is ours to sign.
    const trusted = await submitMessage({
      port: ingest.addresses.smtp.port,
      from: 'alice@signed.test',
      to: ['bob@example.org'],
      message: spoofed,
    });
    const fromTrusted = await queues.stored(queuedIdOf(trusted.response));
    assert.equal(fromTrusted.dkim?.signatures[0]?.domain, 'signed.test');
  } finally {
    await queues.close();
    await ingest.stop();
    await redis.stop();
    await rm(keysDir, { recursive: true, force: true });
  }
});
