import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isMessageId } from '@outpost/core';
import type { DeliveryJobData } from '@outpost/queue';
import { TestRedis } from '@outpost/testing';
import type { Ingest } from '../src/index.ts';
import { openQueues, totalJobs } from './helpers.ts';
import { escapeRegExp, KEYS, postMessage, receivedPattern, startHttpTestIngest } from './http-helpers.ts';

describe('HTTP API: POST /v1/messages', () => {
  let redis: TestRedis;
  let ingest: Ingest;
  let queues: ReturnType<typeof openQueues>;
  let port: number;

  before(async () => {
    redis = await TestRedis.start();
    ingest = await startHttpTestIngest(redis, {
      OUTPOST_MAX_RECIPIENTS: '5',
      OUTPOST_MAX_MESSAGE_SIZE: '64k',
      OUTPOST_QUEUE_LIFETIME: '2d',
      OUTPOST_HTTP_BODY_BUDGET: '20k',
    });
    port = ingest.addresses.http.port;
    queues = openQueues(redis);
  });
  beforeEach(async () => {
    // Children first: removing them could otherwise move a parent back to "waiting".
    await queues.delivery.obliterate({ force: true });
    await queues.message.obliterate({ force: true });
    assert.equal(await totalJobs(queues), 0);
  });
  after(async () => {
    await queues.close();
    await ingest.stop();
    await redis.stop();
  });

  const storedMessage = (id: string) => queues.stored(id);

  test('a JSON message is built into MIME, stored exactly as it will be sent, and answered 202', async () => {
    const attachment = Buffer.from([0, 1, 2, 250, 251, 252, 13, 10, 46]);
    const answer = await postMessage(port, {
      from: 'Alice Example <alice@example.com>',
      to: ['Bob <bob@example.org>'],
      cc: ['carol@Example.NET'],
      bcc: ['dave@secret.example'],
      replyTo: 'support@shop.example',
      subject: 'Grüße from the API',
      text: 'Hello Bob,\nthis is plain text.\n',
      html: '<p>Hello <b>Bob</b></p>',
      headers: { 'X-Campaign': 'spring-2026', 'List-Unsubscribe': '<https://shop.example/u/1>' },
      attachments: [
        {
          filename: 'data.bin',
          contentType: 'application/octet-stream',
          content: attachment.toString('base64'),
        },
      ],
      dsn: { notify: ['FAILURE', 'DELAY'], ret: 'HDRS', envid: 'order-42' },
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.json));
    assert.ok(isMessageId(answer.json.id));
    assert.deepEqual(answer.json.recipients, ['bob@example.org', 'carol@example.net', 'dave@secret.example']);

    const data = await storedMessage(answer.json.id);
    const body = data.body.toString('latin1');
    assert.equal(data.size, data.body.length);
    assert.equal(data.sender, 'alice@example.com');
    assert.deepEqual(data.dsn, { ret: 'HDRS', envid: 'order-42' });
    assert.deepEqual(
      data.recipients.map((recipient) => [recipient.address, recipient.notify]),
      [
        ['bob@example.org', ['FAILURE', 'DELAY']],
        ['carol@example.net', ['FAILURE', 'DELAY']],
        ['dave@secret.example', ['FAILURE', 'DELAY']],
      ],
    );
    assert.deepEqual(data.client, { protocol: 'http', address: '127.0.0.1', tls: false, user: 'shop' });
    assert.match(body, new RegExp(`^${receivedPattern(answer.json.id)}`));
    // The bytes that go out: CRLF only, no line over 998 octets.
    assert.doesNotMatch(body, /\r(?!\n)|(?<!\r)\n/);
    assert.ok(body.split('\r\n').every((line) => line.length <= 998));
    const head = body.slice(0, body.indexOf('\r\n\r\n') + 2);
    assert.match(head, /^From: Alice Example <alice@example\.com>\r$/m);
    assert.match(head, /^To: Bob <bob@example\.org>\r$/m);
    assert.match(head, /^Cc: carol@example\.net\r$/m);
    assert.match(head, /^Reply-To: support@shop\.example\r$/m);
    assert.match(head, /^Subject: =\?UTF-8\?Q\?Gr=C3=BC=C3=9Fe_from_the_API\?=\r$/m);
    assert.match(head, /^X-Campaign: spring-2026\r$/m);
    assert.match(head, /^MIME-Version: 1\.0\r$/m);
    assert.equal(
      head.match(/^Message-ID: <[0-9a-f-]{36}@mx\.outpost\.test>\r$/gm)?.length,
      1,
      'exactly one Message-ID',
    );
    assert.equal(head.match(/^Date: /gm)?.length, 1, 'exactly one Date');
    assert.equal(data.headers.messageId, head.match(/^Message-ID: (.*)\r$/m)?.[1]);
    assert.doesNotMatch(body, /dave@secret\.example/, 'Bcc recipients never appear in the message');
    assert.doesNotMatch(body, /^Bcc:/im);
    assert.match(body, /Content-Type: text\/plain; charset=utf-8/);
    assert.match(body, /Hello <b>Bob<\/b>/);
    const encoded = body.match(/filename=data\.bin\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/)?.[1];
    assert.ok(encoded, 'the attachment part is there');
    assert.deepEqual(Buffer.from(encoded.replace(/\r\n/g, ''), 'base64'), attachment);

    const deliveries = await queues.delivery.getJobs(['waiting', 'delayed', 'waiting-children']);
    const delivered = deliveries.flatMap((job) =>
      (job.data as DeliveryJobData).recipients.map((r) => r.address),
    );
    assert.deepEqual(delivered.sort(), ['bob@example.org', 'carol@example.net', 'dave@secret.example']);
  });

  test('a raw message is stored byte for byte, with Received on top and Message-ID/Date added at the end of the header', async () => {
    const headerBlock = 'From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: raw\r\n';
    const content = 'Line one.\r\nCaf\u00e9 \u2615 in UTF-8.\r\n';
    const answer = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      raw: `${headerBlock}\r\n${content}`,
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.json));
    const id = answer.json.id;
    const stored = (await storedMessage(id)).body;
    const expected = new RegExp(
      `^${receivedPattern(id, 'bob@example.org')}${escapeRegExp(headerBlock)}` +
        `Message-ID: <${id}@mx\\.outpost\\.test>\\r\\nDate: [^\\r\\n]+\\r\\n\\r\\n` +
        `${escapeRegExp(Buffer.from(content, 'utf8').toString('latin1'))}$`,
    );
    assert.match(stored.toString('latin1'), expected);
    assert.ok(
      stored.includes(Buffer.from('Caf\u00e9 \u2615', 'utf8')),
      'UTF-8 content is stored as UTF-8 bytes',
    );
  });

  test('raw LF line endings are normalised to CRLF, and a final CRLF is added', async () => {
    const answer = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      raw: 'From: alice@example.com\nSubject: lf\nMessage-ID: <lf@example.com>\nDate: Fri, 27 Nov 2026 10:00:00 +0000\n\nfirst\nsecond',
    });
    assert.equal(answer.status, 202, JSON.stringify(answer.json));
    const body = (await storedMessage(answer.json.id)).body.toString('latin1');
    const afterReceived = body.slice(body.indexOf('From:'));
    assert.equal(
      afterReceived,
      'From: alice@example.com\r\nSubject: lf\r\nMessage-ID: <lf@example.com>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nfirst\r\nsecond\r\n',
    );
  });

  test('raw messages with a bare CR, a NUL, an overlong line, no From or a Bcc header are refused, nothing queued', async () => {
    const cases: Array<[string, string]> = [
      ['From: a@example.com\r\n\r\nsmuggled\r.\rMAIL FROM:<x@y.z>\r\n', 'bare_cr'],
      ['From: a@example.com\r\n\r\nnul\0here\r\n', 'nul_character'],
      [`From: a@example.com\r\n\r\n${'x'.repeat(999)}\r\n`, 'line_too_long'],
      ['Subject: no from\r\n\r\nbody\r\n', 'missing_from'],
      ['From: a@example.com\r\nBcc: hidden@example.org\r\n\r\nbody\r\n', 'bcc_header'],
    ];
    for (const [raw, code] of cases) {
      const answer = await postMessage(port, { from: 'alice@example.com', to: ['bob@example.org'], raw });
      assert.equal(answer.status, 400, code);
      assert.deepEqual(answer.json.error.code, code);
      assert.equal(answer.json.error.field, 'raw');
    }
    assert.equal(await totalJobs(queues), 0);
  });

  test('no or an unknown API key: 401 with WWW-Authenticate, nothing queued', async () => {
    const message = { from: 'alice@example.com', to: ['bob@example.org'], text: 'x' };
    for (const key of [null, 'outpost_notakey', `${KEYS.shop.key}x`, KEYS.shop.entry]) {
      const answer = await postMessage(port, message, { key });
      assert.equal(answer.status, 401, String(key));
      assert.equal(answer.json.error.code, 'unauthorized');
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="outpost"');
    }
    const basic = await postMessage(port, message, {
      key: null,
      headers: { authorization: `Basic ${Buffer.from(`shop:${KEYS.shop.key}`).toString('base64')}` },
    });
    assert.equal(basic.status, 401);
    assert.equal(await totalJobs(queues), 0);
  });

  test('a sender the key does not own: 403, nothing queued; its own addresses and domains pass', async () => {
    for (const from of ['eve@example.com', 'alice@example.com.evil.example', 'Alice <alice@evil.example>']) {
      const answer = await postMessage(port, { from, to: ['bob@example.org'], text: 'x' });
      assert.equal(answer.status, 403, from);
      assert.equal(answer.json.error.code, 'sender_not_allowed');
      assert.equal(answer.json.error.field, 'from');
    }
    const raw403 = await postMessage(port, {
      from: '',
      to: ['bob@example.org'],
      raw: 'From: a@b.example\r\n\r\nx',
    });
    assert.equal(raw403.status, 403, 'the null sender needs <> in the key');
    assert.equal(await totalJobs(queues), 0);
    for (const from of ['ALICE@example.com', 'news@shop.example']) {
      assert.equal((await postMessage(port, { from, to: ['bob@example.org'], text: 'x' })).status, 202, from);
    }
    const nullSender = await postMessage(
      port,
      { from: '', to: ['bob@example.org'], raw: 'From: MAILER-DAEMON@shop.example\r\n\r\nbounce' },
      { key: KEYS.nullSender.key },
    );
    assert.equal(nullSender.status, 202);
    assert.equal((await storedMessage(nullSender.json.id)).sender, '');
  });

  test('CR, LF or NUL in any header-bound field: 400 header_injection naming the field, nothing queued', async () => {
    const base = { from: 'alice@example.com', to: ['bob@example.org'], text: 'x' };
    const attachment = { filename: 'a.txt', contentType: 'text/plain', content: 'aGk=' };
    const cases: Array<[string, Record<string, unknown>]> = [
      ['from', { ...base, from: 'alice@example.com\r\nBcc: victim@example.net' }],
      ['to[0]', { ...base, to: ['bob@example.org\nBcc: victim@example.net'] }],
      ['cc[1]', { ...base, cc: ['c@example.org', 'd@example.org\r'] }],
      ['bcc[0]', { ...base, bcc: ['e@example.org\0'] }],
      ['replyTo', { ...base, replyTo: 'r@example.org\r\nX-Injected: 1' }],
      ['subject', { ...base, subject: 'Hi\r\nBcc: victim@example.net' }],
      ['headers.X-Campaign', { ...base, headers: { 'X-Campaign': 'a\nX-Injected: 1' } }],
      ['headers["X-A\\r\\nBcc"]', { ...base, headers: { 'X-A\r\nBcc': 'victim@example.net' } }],
      [
        'attachments[0].filename',
        { ...base, attachments: [{ ...attachment, filename: 'a.txt\r\nX-Injected: 1' }] },
      ],
      [
        'attachments[0].contentType',
        { ...base, attachments: [{ ...attachment, contentType: 'text/plain\nX-I: 1' }] },
      ],
      ['dsn.envid', { ...base, dsn: { envid: 'id\r\nRCPT TO:<victim@example.net>' } }],
      [
        'from',
        {
          from: 'alice@example.com\r\nRCPT TO:<v@example.net>',
          to: ['bob@example.org'],
          raw: 'From: a@b.example\r\n\r\nx',
        },
      ],
      [
        'to[0]',
        { from: 'alice@example.com', to: ['bob@example.org\r\nDATA'], raw: 'From: a@b.example\r\n\r\nx' },
      ],
    ];
    for (const [field, body] of cases) {
      const answer = await postMessage(port, body);
      assert.equal(answer.status, 400, field);
      assert.deepEqual(
        answer.json.error.code,
        'header_injection',
        `${field}: ${JSON.stringify(answer.json)}`,
      );
      assert.equal(answer.json.error.field, field);
    }
    assert.equal(await totalJobs(queues), 0);
  });

  test('an attachment with a path or href: 400, no file or URL is ever read', async () => {
    for (const source of [
      { path: '/etc/passwd' },
      { href: 'http://127.0.0.1:1/secret' },
      { path: 'data:text/plain,hi' },
    ]) {
      const answer = await postMessage(port, {
        from: 'alice@example.com',
        to: ['bob@example.org'],
        attachments: [{ filename: 'x.txt', ...source }],
      });
      assert.equal(answer.status, 400, JSON.stringify(source));
      assert.equal(answer.json.error.code, 'attachment_source_not_allowed');
      assert.equal(answer.json.error.field, `attachments[0].${Object.keys(source)[0]}`);
    }
    assert.equal(await totalJobs(queues), 0);
  });

  test('invalid requests name the field: unknown field, bad address, relay tricks, reserved header, raw mixed with parts', async () => {
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ from: 'alice@example.com', to: ['bob@example.org'], bogus: 1 }, 'invalid_request', 'bogus'],
      [{ from: 'alice@example.com', to: ['not an address'] }, 'invalid_address', 'to[0]'],
      [{ from: 'alice@example.com', to: ['bob%evil.example@example.org'] }, 'invalid_address', 'to[0]'],
      [{ from: 'alice@example.com', to: ['evil.example!bob@example.org'] }, 'invalid_address', 'to[0]'],
      [{ from: 'alice@example.com', to: ['a@b.example, c@d.example'] }, 'invalid_address', 'to[0]'],
      [
        { from: 'alice@example.com', to: ['b@example.org'], headers: { 'Content-Type': 'text/html' } },
        'reserved_header',
        'headers.Content-Type',
      ],
      [
        { from: 'alice@example.com', to: ['b@example.org'], headers: { bcc: 'x@example.org' } },
        'reserved_header',
        'headers.bcc',
      ],
      [
        { from: 'alice@example.com', to: ['b@example.org'], raw: 'From: a@b.example\r\n\r\nx', subject: 's' },
        'invalid_request',
        'subject',
      ],
      [{ from: 'alice@example.com', to: [], text: 'x' }, 'no_recipients', 'to'],
      [
        { from: 'alice@example.com', to: ['b@example.org'], dsn: { notify: ['NEVER', 'FAILURE'] } },
        'invalid_request',
        'dsn.notify',
      ],
      [
        { from: 'alice@example.com', to: ['b@example.org'], expiresAt: '2001-01-01T00:00:00Z' },
        'invalid_request',
        'expiresAt',
      ],
      [
        {
          from: 'alice@example.com',
          to: ['b@example.org'],
          attachments: [{ filename: 'a', content: 'not base64!' }],
        },
        'invalid_request',
        'attachments[0].content',
      ],
    ];
    for (const [body, code, field] of cases) {
      const answer = await postMessage(port, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal(answer.json.error.code, code, JSON.stringify(answer.json));
      assert.equal(answer.json.error.field, field);
      assert.equal(typeof answer.json.error.message, 'string');
    }
    const notJson = await postMessage(port, '{"from": ');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error.code, 'invalid_json');
    assert.equal(await totalJobs(queues), 0);
  });

  test('more recipients than OUTPOST_MAX_RECIPIENTS: 400 too_many_recipients (duplicates count once)', async () => {
    const six = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => `${name}@example.org`);
    const tooMany = await postMessage(port, {
      from: 'alice@example.com',
      to: six.slice(0, 3),
      bcc: six.slice(3),
      text: 'x',
    });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.error.code, 'too_many_recipients');
    assert.equal(await totalJobs(queues), 0);
    const duplicates = await postMessage(port, {
      from: 'alice@example.com',
      to: [...six.slice(0, 5), 'A@EXAMPLE.ORG'.replace('A@', 'a@')],
      text: 'x',
    });
    assert.equal(duplicates.status, 202, JSON.stringify(duplicates.json));
    assert.equal(duplicates.json.recipients.length, 5);
  });

  test('a message over OUTPOST_MAX_MESSAGE_SIZE: 413, in JSON and raw form, nothing queued', async () => {
    const big = Buffer.alloc(70 * 1024, 'y').toString('base64');
    const composed = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      attachments: [{ filename: 'big.bin', content: big }],
    });
    assert.equal(composed.status, 413);
    assert.equal(composed.json.error.code, 'message_too_large');
    const raw = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      raw: `From: a@b.example\r\n\r\n${'z'.repeat(70)}\r\n`.repeat(1_000),
    });
    assert.equal(raw.status, 413);
    const absurd = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      text: 'q'.repeat(300_000),
    });
    assert.equal(absurd.status, 413, 'a body far beyond the limit is stopped before it is parsed');
    assert.equal(await totalJobs(queues), 0);
  });

  test('expiresAt sets the message expiry; beyond the queue lifetime is a 400', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000);
    const answer = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      text: 'x',
      expiresAt: expiresAt.toISOString(),
    });
    assert.equal(answer.status, 202);
    const data = await storedMessage(answer.json.id);
    assert.ok(
      Math.abs(data.expiresAt - expiresAt.getTime()) < 1_000,
      `${data.expiresAt} vs ${expiresAt.getTime()}`,
    );
    const tooFar = await postMessage(port, {
      from: 'alice@example.com',
      to: ['bob@example.org'],
      text: 'x',
      expiresAt: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    assert.equal(tooFar.status, 400);
    assert.equal(tooFar.json.error.field, 'expiresAt');
  });

  test('Idempotency-Key: a repeat gets the first answer and enqueues nothing new', async () => {
    const message = { from: 'alice@example.com', to: ['bob@example.org'], subject: 'once', text: 'x' };
    const headers = { 'idempotency-key': 'order-1001' };
    const first = await postMessage(port, message, { headers });
    assert.equal(first.status, 202);
    const second = await postMessage(port, message, { headers });
    assert.equal(second.status, 202);
    assert.deepEqual(second.json, first.json);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(await queues.queuedMessages(), 1, 'one message queued');

    const reused = await postMessage(port, { ...message, subject: 'different' }, { headers });
    assert.equal(reused.status, 422);
    assert.equal(reused.json.error.code, 'idempotency_key_reused');
    const otherKey = await postMessage(port, message, { headers: { 'idempotency-key': 'order-1002' } });
    assert.equal(otherKey.status, 202);
    assert.notEqual(otherKey.json.id, first.json.id);
    assert.equal(await queues.queuedMessages(), 2);
  });

  test('Idempotency-Key: concurrent duplicates store one message; the others get the same answer or 409', async () => {
    const message = { from: 'alice@example.com', to: ['bob@example.org'], subject: 'race', text: 'x' };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        postMessage(port, message, { headers: { 'idempotency-key': 'race-1' } }),
      ),
    );
    const accepted = answers.filter((answer) => answer.status === 202);
    assert.ok(accepted.length >= 1);
    assert.equal(
      new Set(accepted.map((answer) => answer.json.id)).size,
      1,
      'every 202 names the same message',
    );
    for (const answer of answers.filter((a) => a.status !== 202)) {
      assert.equal(answer.status, 409);
      assert.equal(answer.json.error.code, 'idempotency_in_progress');
      assert.equal(answer.headers.get('retry-after'), '1');
    }
    assert.equal(await queues.queuedMessages(), 1);
  });

  test('Idempotency-Key: a refused request does not take the key', async () => {
    const headers = { 'idempotency-key': 'fix-and-retry' };
    const bad = await postMessage(
      port,
      { from: 'alice@example.com', to: ['bob@example.org'], raw: 'From: a@b.example\r\n\r\nbare\rCR' },
      { headers },
    );
    assert.equal(bad.status, 400);
    const good = await postMessage(
      port,
      { from: 'alice@example.com', to: ['bob@example.org'], raw: 'From: a@b.example\r\n\r\nfixed' },
      { headers },
    );
    assert.equal(good.status, 202);
    const malformed = await postMessage(
      port,
      { from: 'alice@example.com', to: ['b@example.org'] },
      { headers: { 'idempotency-key': 'x'.repeat(256) } },
    );
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.error.field, 'idempotency-key');
  });

  test('the per-key rate limit: 429 with Retry-After once spent, other keys unaffected', async () => {
    const message = { from: 'anyone@example.net', to: ['bob@example.org'], text: 'x' };
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await postMessage(port, message, { key: KEYS.limited.key })).status);
    assert.deepEqual(statuses, [202, 202, 202]);
    const limited = await postMessage(port, message, { key: KEYS.limited.key });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(await queues.queuedMessages(), 3);
    const counter = await redis.client().pttl('{outpost}:ingest:rate:http:limited');
    assert.ok(counter > 0 && counter <= 60_000, 'the shared counter lives in Redis with a TTL');
    assert.equal((await postMessage(port, { ...message, from: 'alice@example.com' })).status, 202);
  });

  test('bodies past OUTPOST_HTTP_BODY_BUDGET wait outside: 503 busy with Retry-After, nothing queued; admitted again once the first is done', async (t) => {
    const message = (text: string) => ({ from: 'alice@example.com', to: ['bob@example.org'], text });
    // A 15,000-byte body that arrives slowly: its declared size is reserved from its headers on.
    const slowBody = JSON.stringify(message('')).replace('"text":""', `"text":"${'s'.repeat(15_000 - 64)}"`);
    const padded = slowBody.replace('"text":"', `"text":"${'s'.repeat(15_000 - slowBody.length)}`);
    assert.equal(Buffer.byteLength(padded), 15_000);
    const socket = connect({ host: '127.0.0.1', port });
    const answer = new Promise<string>((resolve) => {
      let text = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
    });
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Authorization: Bearer ${KEYS.shop.key}\r\nContent-Length: 15000\r\n\r\n${padded.slice(0, 100)}`,
    );
    // A failed assertion must not leave the half-sent request holding the server open.
    t.after(() => socket.destroy());
    await new Promise((resolve) => setTimeout(resolve, 300));

    const refused = await postMessage(port, message('b'.repeat(8_000)));
    assert.equal(refused.status, 503);
    assert.equal(refused.json.error.code, 'busy');
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(
      (await postMessage(port, message('small'))).status,
      202,
      'a small body still fits beside the slow one',
    );

    socket.write(padded.slice(100));
    assert.match(await answer, /^HTTP\/1\.1 202 /);
    assert.equal(
      (await postMessage(port, message('b'.repeat(8_000)))).status,
      202,
      'admitted once the slow one is done',
    );
    assert.equal(await queues.queuedMessages(), 3);
  });

  test('health and readiness answer; unknown paths get the error shape', async () => {
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      status: 'ready',
      checks: { redis: 'ok', memory: 'ok' },
    });
    const missing = await fetch(`http://127.0.0.1:${port}/v2/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
  });
});
