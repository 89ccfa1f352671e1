import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnvelopeAddress, parseMailbox } from '../src/http/addresses.ts';
import { ApiError } from '../src/http/api-error.ts';
import { composeMessage } from '../src/http/compose-message.ts';
import { lifetimeFor, readEnvelope } from '../src/http/message-envelope.ts';
import { normalizeRawMessage } from '../src/http/raw-message.ts';
import { sendMessageSchema } from '../src/http/schemas.ts';
import { formatField, parseRequest, validationToApiError } from '../src/http/validation.ts';

function apiErrorOf(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    return error;
  }
  assert.fail('expected an ApiError');
}

function validationError(body: unknown): ApiError {
  const result = parseRequest(sendMessageSchema, body);
  assert.ok('error' in result, 'the body is invalid');
  return validationToApiError(result.error);
}

describe('HTTP message parts', () => {
  test('addresses: display names, IDN domains as A-labels, relay tricks refused', () => {
    assert.deepEqual(parseMailbox('Zoë <zoe@Bücher.Example>', 'to[0]'), {
      name: 'Zoë',
      address: 'zoe@xn--bcher-kva.example',
    });
    assert.equal(parseEnvelopeAddress('Bob.Smith+tag@Example.ORG', 'to[0]'), 'Bob.Smith+tag@example.org');
    for (const bad of [
      'bob%evil.example@relay.example',
      'evil!bob@relay.example',
      'bob@localhost',
      'bob@-x.example',
      '"a@b"@c.example',
      'bob@[127.0.0.1]',
      'ünï@example.org',
    ]) {
      const error = apiErrorOf(() => parseEnvelopeAddress(bad, 'to[3]'));
      assert.equal(error.code, 'invalid_address', bad);
      assert.equal(error.field, 'to[3]');
    }
    assert.equal(apiErrorOf(() => parseMailbox('a@b.example, c@d.example', 'from')).code, 'invalid_address');
    assert.equal(apiErrorOf(() => parseMailbox('list: a@b.example;', 'from')).code, 'invalid_address');
    assert.equal(
      apiErrorOf(() => parseEnvelopeAddress(`${'x'.repeat(65)}@example.org`, 'from')).code,
      'invalid_address',
    );
  });

  test('raw messages: LF -> CRLF, final CRLF added, CRLF kept as is', () => {
    assert.equal(
      normalizeRawMessage('From: a@b.example\nSubject: s\n\nbody').toString(),
      'From: a@b.example\r\nSubject: s\r\n\r\nbody\r\n',
    );
    const crlf = 'From: a@b.example\r\n\r\nbody\r\n';
    assert.equal(normalizeRawMessage(crlf).toString(), crlf);
    assert.equal(
      normalizeRawMessage('From: a@b.example\r\n\r\n\u00e9').toString('latin1'),
      'From: a@b.example\r\n\r\n\u00c3\u00a9\r\n',
    );
    assert.equal(apiErrorOf(() => normalizeRawMessage('From: a@b.example\r\n\r\nx\r')).code, 'bare_cr');
    assert.equal(
      apiErrorOf(() => normalizeRawMessage(`From: a@b.example\n\n${'é'.repeat(500)}`)).code,
      'line_too_long',
      'octets, not characters',
    );
    assert.doesNotThrow(() => normalizeRawMessage(`From: a@b.example\n\n${'x'.repeat(998)}`));
  });

  test('composed messages: CRLF only, Bcc never written, reserved headers and odd Message-IDs refused', async () => {
    const mailboxes = {
      from: { name: 'Alice', address: 'alice@example.com' },
      to: [{ name: '', address: 'bob@example.org' }],
      cc: [],
      replyTo: undefined,
    };
    const message = (
      await composeMessage({
        request: {
          from: 'Alice <alice@example.com>',
          to: ['bob@example.org'],
          bcc: ['hidden@example.net'],
          text: 'a\nb\rc',
          html: '<p>x</p>',
        },
        ...mailboxes,
        hostname: 'mx.outpost.test',
        now: Date.UTC(2026, 10, 27, 10, 0, 0),
      })
    ).toString('latin1');
    assert.doesNotMatch(message, /\r(?!\n)|(?<!\r)\n/);
    assert.doesNotMatch(message, /hidden@example\.net|^Bcc:/im);
    assert.match(message, /^Date: Fri, 27 Nov 2026 10:00:00 \+0000\r$/m);
    assert.match(message, /^Message-ID: <[0-9a-f-]{36}@mx\.outpost\.test>\r$/m);
    const own = (
      await composeMessage({
        request: {
          from: 'alice@example.com',
          headers: { 'Message-ID': '<mine@example.com>', Date: 'Thu, 26 Nov 2026 09:00:00 +0000' },
        },
        ...mailboxes,
        hostname: 'mx.outpost.test',
        now: 0,
      })
    ).toString('latin1');
    assert.match(own, /^Message-ID: <mine@example\.com>\r$/m);
    assert.match(own, /^Date: Thu, 26 Nov 2026 09:00:00 \+0000\r$/m);
    for (const [headers, code] of [
      [{ 'Content-Type': 'text/html' }, 'reserved_header'],
      [{ Received: 'from elsewhere' }, 'reserved_header'],
      [{ 'message-id': 'no-brackets@example.com' }, 'invalid_request'],
      [{ 'X-Long': 'y'.repeat(998) }, 'line_too_long'],
    ] as const) {
      await assert.rejects(
        composeMessage({
          request: { from: 'alice@example.com', headers },
          ...mailboxes,
          hostname: 'h.example',
          now: 0,
        }),
        (error: ApiError) => error.code === code,
        JSON.stringify(headers),
      );
    }
  });

  /** A message from alice to bob with these request fields. */
  const compose = (request: Parameters<typeof composeMessage>[0]['request']) =>
    composeMessage({
      request,
      from: { name: '', address: 'alice@example.com' },
      to: [{ name: '', address: 'bob@example.org' }],
      cc: [],
      replyTo: undefined,
      hostname: 'h.example',
      now: 0,
    });

  test('headers given as {"key", "value"} are two header fields, not a way around the reserved list', async () => {
    const message = (
      await compose({
        from: 'alice@example.com',
        headers: { key: 'Sender', value: 'CEO <ceo@bank.example>' },
      })
    ).toString('latin1');
    assert.doesNotMatch(message, /^Sender:/im);
    assert.match(message, /^key: Sender\r$/im);
    assert.match(message, /^value: CEO <ceo@bank\.example>\r$/im);
  });

  test('a client Date is written in RFC 5322 form; message/* attachments are made mail-safe or refused', async () => {
    const dated = (await compose({ from: 'alice@example.com', headers: { Date: '2026-11-27' } })).toString();
    assert.match(dated, /^Date: Fri, 27 Nov 2026 00:00:00 \+0000\r$/m);
    const eml = (text: string) => ({
      from: 'alice@example.com',
      text: 'forwarded',
      attachments: [
        { filename: 'f.eml', contentType: 'message/rfc822', content: Buffer.from(text).toString('base64') },
      ],
    });
    const forwarded = (await compose(eml('Subject: x\n\nline one\nline two\n'))).toString('latin1');
    assert.doesNotMatch(forwarded, /\r(?!\n)|(?<!\r)\n/, 'its LF line endings became CRLF');
    assert.match(forwarded, /\r\nline one\r\nline two\r\n/);
    await assert.rejects(compose(eml('Subject: x\r\n\r\na\0b\r\n')), (error: ApiError) => {
      assert.equal(error.code, 'nul_character');
      assert.equal(error.status, 400);
      return true;
    });
    await assert.rejects(
      compose(eml('Subject: x\r\n\r\na\rb\r\n')),
      (error: ApiError) => error.code === 'bare_cr',
    );
    // No type given: MailComposer takes message/rfc822 from the .eml name, and so do the checks.
    const untyped = eml('Subject: x\r\n\r\na\0b\r\n');
    await assert.rejects(
      compose({
        ...untyped,
        attachments: untyped.attachments.map(({ contentType: _type, ...rest }) => rest),
      }),
      (error: ApiError) => error.code === 'nul_character',
    );
    const multipart = validationError({
      from: 'alice@example.com',
      to: ['bob@example.org'],
      text: 'x',
      attachments: [{ filename: 'x', contentType: 'multipart/mixed', content: 'eA==' }],
    });
    assert.equal(multipart.status, 400);
  });

  test('envelope: recipients are to + cc + bcc de-duplicated, NOTIFY applied to each', () => {
    const envelope = readEnvelope(
      {
        from: 'alice@example.com',
        to: ['b@example.org', 'B@EXAMPLE.ORG'],
        cc: ['b@example.org'],
        bcc: ['c@example.net'],
        dsn: { notify: ['SUCCESS'] },
      },
      { maxRecipients: 10 },
    );
    assert.deepEqual(envelope.recipients, [
      { address: 'b@example.org', notify: ['SUCCESS'] },
      { address: 'B@example.org', notify: ['SUCCESS'] },
      { address: 'c@example.net', notify: ['SUCCESS'] },
    ]);
    assert.equal(
      readEnvelope({ from: '<a@b.example>', to: ['<c@d.example>'], raw: 'x' }, { maxRecipients: 1 }).sender,
      'a@b.example',
    );
    assert.equal(
      apiErrorOf(() =>
        readEnvelope(
          { from: 'a@b.example', to: ['c@d.example', 'e@f.example'], raw: 'x' },
          { maxRecipients: 1 },
        ),
      ).code,
      'too_many_recipients',
    );
  });

  test('expiresAt must lie between now and now + queue lifetime', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(lifetimeFor(undefined, now, 5_000), 5_000);
    assert.equal(lifetimeFor('2026-01-01T00:00:04Z', now, 5_000), 4_000);
    assert.equal(apiErrorOf(() => lifetimeFor('2026-01-01T00:00:06Z', now, 5_000)).field, 'expiresAt');
    assert.equal(apiErrorOf(() => lifetimeFor('2025-12-31T23:59:59Z', now, 5_000)).field, 'expiresAt');
  });

  test('validation errors: injection before anything else, the branch the client meant, readable field paths', () => {
    const injection = validationError({ from: 'a@b.example', to: 42, subject: 'x\r\ny' });
    assert.deepEqual([injection.code, injection.field], ['header_injection', 'subject']);
    const mixed = validationError({ from: 'a@b.example', to: ['c@d.example'], raw: 'x', html: '<p>' });
    assert.deepEqual([mixed.code, mixed.field], ['invalid_request', 'html']);
    const rawMissing = validationError({ from: 'a@b.example', raw: 'x' });
    assert.deepEqual([rawMissing.code, rawMissing.field], ['invalid_request', 'to']);
    const source = validationError({
      from: 'a@b.example',
      attachments: [{ filename: 'f', content: '', contentType: 'a/b' }, { href: 'https://x.example/' }],
    });
    assert.deepEqual([source.code, source.field], ['attachment_source_not_allowed', 'attachments[1].href']);
    assert.equal(formatField(['headers', 'X-Tag']), 'headers.X-Tag');
    assert.equal(formatField(['headers', 'a b', 0]), 'headers["a b"][0]');
  });
});
