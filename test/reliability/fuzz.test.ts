import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  asciiDomain,
  CLASSIFICATION_RULES,
  classify,
  commandLineLimit,
  type DeliveryEvent,
  formatSmtpReply,
  INGEST_REPLIES,
  MessageLineChecker,
  parsePathCommand,
  parseSmtpReply,
  type SmtpReply,
} from '@outpost/core';
import fc from 'fast-check';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { parse as grammarParse } from 'smtp-address-parser';
import type { SMTPServerSession } from 'smtp-server';
import { parseEnvelopeAddress, parseMailbox } from '../../services/ingest/src/http/addresses.ts';
import { createCommandScreen } from '../../services/ingest/src/smtp/command-screen.ts';
import { setting } from './support/scale.ts';

// Property-based fuzzing (fast-check) of what reads hostile input: the SMTP path parser, the
// command screen in front of smtp-server, the DATA line checker, the address handling of both
// entry points, and the reply classifier. Each property also bounds the time per input (100 ms).
// CI runs each property for at most PROPERTY_MS; OUTPOST_FUZZ_RUNS=100000 runs longer, and
// OUTPOST_FUZZ_SEED replays a failure (fast-check prints the seed and the shrunk counterexample).

const RUNS = Number(setting('OUTPOST_FUZZ_RUNS') ?? 5_000);
const LONG = setting('OUTPOST_FUZZ_RUNS') !== undefined;
/** 11 properties (the corpus tests are fixed inputs) share the 60 s CI budget for fuzzing. */
const PROPERTY_MS = LONG ? 3_600_000 : 4_000;
const SEED = setting('OUTPOST_FUZZ_SEED') === undefined ? undefined : Number(setting('OUTPOST_FUZZ_SEED'));
const MAX_MS = 100;

function check<T>(arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void): void {
  fc.assert(fc.property(arbitrary, predicate), {
    numRuns: RUNS,
    interruptAfterTimeLimit: PROPERTY_MS,
    markInterruptAsFailure: false,
    ...(SEED !== undefined && { seed: SEED }),
  });
}

/**
 * Runs `work` and asserts it took under MAX_MS. A slow run is measured twice more and the fastest
 * counts: a garbage collection or a busy machine is noise, a super-linear parser is not.
 */
function bounded<T>(what: string, work: () => T): T {
  let fastest = Number.POSITIVE_INFINITY;
  let result: T | undefined;
  for (let run = 0; run < 3 && fastest >= MAX_MS; run++) {
    const started = performance.now();
    result = work();
    fastest = Math.min(fastest, performance.now() - started);
  }
  assert.ok(fastest < MAX_MS, `${what} took ${fastest.toFixed(1)} ms`);
  return result as T;
}

const octets = (text: string) => Buffer.byteLength(text, 'utf8');
const NON_ASCII = /[^\x00-\x7f]/;

/** The characters that matter to SMTP paths. */
const SPECIALS = [
  '<',
  '>',
  '@',
  '%',
  '!',
  ':',
  ',',
  '"',
  '\\',
  '.',
  ' ',
  '[',
  ']',
  '(',
  ')',
  '=',
  '\u0000',
  '\r',
  '\n',
];

/** Paths built like real ones (dot-strings, quoted strings, IDNs, literals, source routes) ... */
const atom = fc.oneof(
  { weight: 9, arbitrary: fc.stringMatching(/^[A-Za-z0-9#$&'*+/=?^_`{|}~-]{1,8}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9%!]{1,8}$/) },
);
const utf8Atom = fc.constantFrom('jösé', 'ñandú', '用户', 'δοκιμή', 'ü');
const dotString = fc
  .array(fc.oneof(atom, atom, utf8Atom), { minLength: 1, maxLength: 3 })
  .map((a) => a.join('.'));
const quotedString = fc
  .array(fc.oneof(atom, fc.constantFrom(' ', '\\"', '\\\\', '@', '%', '!', ',', ':', '(', ')', 'ü')), {
    minLength: 1,
    maxLength: 5,
  })
  .map((parts) => `"${parts.join('')}"`);
const label = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?$/),
  fc.constantFrom('bücher', 'münchen', 'xn--bcher-kva', 'XN--MNCHEN-3YA', 'example', 'org', '123', '0x7f'),
);
const domainName = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
const hostName = fc
  .tuple(domainName, fc.constantFrom('example', 'org', 'de', 'xn--p1ai', 'bücher'))
  .map(([name, top]) => `${name}.${top}`);
const literal = fc.oneof(
  fc.ipV4().map((a) => `[${a}]`),
  fc.ipV6().map((a) => `[IPv6:${a}]`),
);
/** A source route (`@relay:`) now and then: always refused, never rewritten. */
const sourceRoute = fc.array(
  domainName.map((d) => `@${d}`),
  { minLength: 1, maxLength: 2 },
);
const structuredPath = fc
  .tuple(
    fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: sourceRoute }),
    fc.oneof(dotString, dotString, quotedString),
    fc.oneof(hostName, hostName, hostName, domainName, literal),
  )
  .map(([route, local, domain]) => `${route ? `${route.join(',')}:` : ''}${local}@${domain}`);
/** ... then broken in one place ... */
const mutatedPath = fc
  .tuple(structuredPath, fc.nat(), fc.constantFrom(...SPECIALS))
  .map(([path, at, inserted]) => {
    const cut = at % (path.length + 1);
    return `${path.slice(0, cut)}${inserted}${path.slice(cut)}`;
  });
/** ... or just the special characters and random runs in between. */
const randomPath = fc
  .array(fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ maxLength: 6 }), atom), { maxLength: 30 })
  .map((parts) => parts.join(''));
const pathText = fc.oneof(
  { weight: 4, arbitrary: structuredPath },
  { weight: 2, arbitrary: mutatedPath },
  { weight: 1, arbitrary: randomPath },
);

const pathLine = fc
  .tuple(
    fc.constantFrom('MAIL FROM:', 'RCPT TO:', 'mail from: ', 'Rcpt To:', 'RCPT TO:  '),
    pathText,
    fc.constantFrom(
      '',
      '',
      ' SIZE=1000',
      ' BODY=8BITMIME SMTPUTF8',
      ' NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.z',
      ' =x',
      '  X',
    ),
    fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  )
  .map(([verb, inner, params, bracket]) => `${verb}${bracket ? `<${inner}>` : inner}${params}`);

const verbOf = (line: string) => (/^mail/i.test(line) ? 'MAIL FROM' : 'RCPT TO') as 'MAIL FROM' | 'RCPT TO';

/** RFC 5321 atext without `%` and `!` (which Outpost refuses as routing), as dot-atoms. */
const dotAtom = fc
  .array(fc.stringMatching(/^[A-Za-z0-9#$&'*+/=?^_`{|}~-]{1,10}$/), { minLength: 1, maxLength: 4 })
  .map((atoms) => atoms.join('.'))
  .filter((local) => local.length <= 64);
const ldhDomain = fc
  .array(fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?$/), { minLength: 2, maxLength: 4 })
  .map((labels) => labels.join('.'))
  .filter((domain) => !/(^|\.)xn--/i.test(domain) && !/(^|\.)..--/.test(domain));

describe('fuzz: the SMTP path parser (libs/core/src/ingest/smtp-path.ts)', () => {
  test('any line: no throw, under 100 ms, and whatever it accepts is safe to route', (t) => {
    let runs = 0;
    let accepted = 0;
    check(pathLine, (line) => {
      const verb = verbOf(line);
      const result = bounded(`parsing ${JSON.stringify(line)}`, () => parsePathCommand(line, verb));
      runs++;
      if (!result.ok) return;
      accepted++;
      if (result.mailbox === null) {
        assert.equal(verb, 'MAIL FROM', 'only MAIL has a null path');
        return;
      }
      const { localPart, domain, address } = result.mailbox;
      // Never a relay trick: no routing characters, no second @, even quoted.
      assert.doesNotMatch(localPart.replace(/^"|"$/g, ''), /[%!@]/, `local part of ${line}`);
      assert.equal(address, `${localPart}@${domain}`);
      assert.ok(octets(localPart) <= 64 && octets(domain) <= 255 && octets(address) + 2 <= 256, line);
      assert.ok(domain.startsWith('[') || !/[^a-z0-9.-]/.test(domain), `A-label domain: ${domain}`);
      const inner = line.slice(line.indexOf('<') + 1, line.indexOf('>'));
      assert.equal(result.utf8, NON_ASCII.test(inner), 'utf8 says whether the path was ASCII');
    });
    // The properties above mean something only if many generated paths are accepted.
    assert.ok(accepted > runs / 10, `only ${accepted} of ${runs} generated lines accepted`);
    t.diagnostic(`${accepted} of ${runs} generated lines accepted`);
  });

  test('round trip: an accepted path, written out again, parses to the same mailbox and parameters', () => {
    check(pathLine, (line) => {
      const first = parsePathCommand(line, verbOf(line));
      if (!first.ok || first.mailbox === null) return;
      const params = Object.entries(first.params).map(([key, value]) =>
        value === true ? key : `${key}=${value}`,
      );
      const again = parsePathCommand(
        [`${verbOf(line)}:<${first.mailbox.address}>`, ...params].join(' '),
        verbOf(line),
      );
      assert.ok(again.ok, `${line} accepted, its rewriting refused`);
      // The domain comes back as A-labels: only `utf8` may change, and says so.
      assert.deepEqual(
        { mailbox: again.mailbox, params: again.params },
        { mailbox: first.mailbox, params: first.params },
      );
      assert.equal(again.utf8, NON_ASCII.test(first.mailbox.address));
    });
  });

  test('plain addresses (dot-atoms at LDH domains): accepted exactly when the RFC 5321 grammar accepts them, read the same', () => {
    check(fc.tuple(dotAtom, ldhDomain), ([local, domain]) => {
      const inner = `${local}@${domain}`;
      fc.pre(octets(inner) + 2 <= 256);
      const result = parsePathCommand(`RCPT TO:<${inner}>`, 'RCPT TO');
      // The one deliberate difference: RFC 3696 §2 rules out an all-numeric top-level label.
      if (/\.(?:\d+|0x[0-9a-f]*)$/i.test(domain)) {
        assert.ok(!result.ok, `${inner}: a numeric top-level label is refused`);
        return;
      }
      let grammar: { localPart: { DotString?: string }; domainPart: { DomainName?: string } };
      try {
        grammar = grammarParse(inner) as typeof grammar;
      } catch (error) {
        assert.ok(!result.ok, `${inner} accepted, the grammar refuses it (${String(error)})`);
        return;
      }
      assert.ok(result.ok, `${inner} refused (${result.ok ? '' : result.problem}), the grammar accepts it`);
      assert.equal(result.mailbox?.localPart, grammar.localPart.DotString);
      assert.equal(result.mailbox?.domain, grammar.domainPart.DomainName?.toLowerCase());
    });
  });
});

describe('fuzz: the command screen in front of smtp-server (services/ingest/src/smtp/command-screen.ts)', () => {
  const screen = createCommandScreen({ maxRecipients: 100, maxMessageSize: 25 * 1024 * 1024 });
  const known = new Set(Object.values(INGEST_REPLIES));
  const session = (inTransaction: boolean) =>
    ({
      hostNameAppearsAs: 'client.test',
      envelope: { mailFrom: inTransaction ? { address: 'a@b.test', args: {} } : false, rcptTo: [] },
    }) as unknown as SMTPServerSession;
  const commandLine = fc.oneof(
    pathLine.map((line) => Buffer.from(line, 'utf8')),
    fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
    fc
      .tuple(
        fc.constantFrom('MAIL FROM:<', 'RCPT TO:<', 'AUTH PLAIN ', 'NOOP ', 'EHLO '),
        fc.integer({ min: 0, max: 14_000 }),
      )
      .map(([verb, length]) => Buffer.from(`${verb}${'a'.repeat(length)}`)),
  );

  test('any line, in or out of a transaction: no throw, under 100 ms, a known reply or none; over-long and invalid UTF-8 always refused', () => {
    check(fc.tuple(commandLine, fc.boolean(), fc.boolean()), ([line, inTransaction, authContinuation]) => {
      const reply = bounded('screening a line', () => screen(line, session(inTransaction), authContinuation));
      if (reply !== undefined) assert.ok(known.has(reply as never), `unknown reply ${JSON.stringify(reply)}`);
      const verb = authContinuation
        ? ''
        : line
            .subarray(0, Math.min(16, line.indexOf(0x20) === -1 ? 16 : line.indexOf(0x20)))
            .toString('latin1')
            .toUpperCase();
      if (line.length + 2 > commandLineLimit(verb, authContinuation)) {
        assert.equal(reply, INGEST_REPLIES.commandTooLong);
      } else if (!isValidUtf8(line)) {
        assert.equal(reply, INGEST_REPLIES.invalidUtf8);
      }
    });
  });
});

describe('fuzz: the DATA line checker against smuggling (libs/core/src/ingest/message-lines.ts)', () => {
  /** What RFC 5321 §2.3.8 and §4.5.3.1.6 allow, read the simple way: the whole message at once. */
  const acceptable = (bytes: Buffer) => {
    const text = bytes.toString('latin1');
    if (text.includes('\0') || /\r(?!\n)|(?<!\r)\n/.test(text)) return false;
    return text.split('\r\n').every((line) => line.length <= 998);
  };
  const body = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '\r\n',
          '\r',
          '\n',
          '.',
          '\r\n.\r\n',
          '\n.\n',
          '\r.\r',
          '\x00',
          'x'.repeat(990),
          'Subject: a',
        ),
        fc.string({ unit: 'binary-ascii', maxLength: 12 }),
      ),
      { maxLength: 40 },
    )
    .map((parts) => Buffer.from(parts.join(''), 'latin1'));

  test('refused exactly when the message has a bare CR or LF, a NUL or an over-long line, however the chunks fall', () => {
    check(fc.tuple(body, fc.array(fc.nat(), { maxLength: 8 })), ([bytes, cuts]) => {
      const checker = new MessageLineChecker();
      const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
      let from = 0;
      for (const point of [...points, bytes.length]) {
        checker.push(bytes.subarray(from, point));
        from = point;
      }
      const refused = checker.end() !== undefined;
      assert.equal(
        refused,
        !acceptable(bytes),
        `${JSON.stringify(bytes.toString('latin1'))} cut at ${points}`,
      );
    });
  });
});

describe('fuzz: address handling (libs/core asciiDomain, the HTTP API addresses)', () => {
  test('asciiDomain: no throw, lower-case A-labels, idempotent', () => {
    check(fc.oneof(fc.domain(), pathText, fc.string({ unit: 'grapheme', maxLength: 40 })), (domain) => {
      const ascii = bounded('asciiDomain', () => asciiDomain(domain));
      if (ascii === undefined || ascii.startsWith('[')) return;
      assert.doesNotMatch(ascii, /[^\x21-\x7e]|[A-Z]/, ascii);
      assert.equal(asciiDomain(ascii), ascii);
    });
  });

  test('HTTP envelope addresses: refused only with an API error; what is accepted is canonical and accepted by SMTP the same', () => {
    const candidates = fc.oneof(
      fc.emailAddress(),
      fc.tuple(dotAtom, ldhDomain).map(([local, domain]) => `${local}@${domain}`),
      pathText,
      fc
        .tuple(dotAtom, fc.constantFrom('bücher.example', 'MÜNCHEN.de', 'xn--mnchen-3ya.de', 'ex ample.com'))
        .map(([local, domain]) => `${local}@${domain}`),
    );
    check(candidates, (text) => {
      let accepted: string;
      try {
        accepted = bounded('parseEnvelopeAddress', () => parseEnvelopeAddress(text, 'to'));
      } catch (error) {
        assert.equal(
          (error as { name?: string; constructor: { name: string } }).constructor.name,
          'ApiError',
          String(error),
        );
        return;
      }
      assert.doesNotMatch(accepted, /[^\x21-\x7e]/, 'ASCII only');
      assert.equal(parseEnvelopeAddress(accepted, 'to'), accepted, 'idempotent');
      const smtp = parsePathCommand(`RCPT TO:<${accepted}>`, 'RCPT TO');
      assert.ok(smtp.ok, `HTTP accepts ${accepted}, SMTP refuses it (${smtp.ok ? '' : smtp.problem})`);
      assert.equal(smtp.mailbox?.address, accepted);
    });
  });

  test('HTTP mailboxes with display names: refused only with an API error, under 100 ms', () => {
    const header = fc
      .tuple(fc.string({ maxLength: 20 }), fc.oneof(fc.emailAddress(), pathText))
      .map(([name, address]) => `${name} <${address}>`);
    check(fc.oneof(header, pathText), (text) => {
      try {
        bounded('parseMailbox', () => parseMailbox(text, 'from'));
      } catch (error) {
        assert.equal(
          (error as { constructor: { name: string } }).constructor.name,
          'ApiError',
          String(error),
        );
      }
    });
  });

  test('a stress corpus of pathological addresses: every parser answers each in under 100 ms', () => {
    const corpus = [
      '('.repeat(10_000),
      ')'.repeat(10_000),
      '"'.repeat(10_000),
      '<'.repeat(10_000),
      '>'.repeat(10_000),
      ','.repeat(10_000),
      '@'.repeat(10_000),
      '\\'.repeat(10_000),
      'a@'.repeat(5_000),
      '"a\\'.repeat(3_000),
      'a <b@c>, '.repeat(1_000),
      `=?utf-8?q?${'a'.repeat(10_000)}?=`,
      `${'a.'.repeat(5_000)}@x.test`,
      `${'x'.repeat(10_000)}@${'y.'.repeat(5_000)}z`,
      `"${'\\ '.repeat(126)}"@x.test`,
      `a@[IPv6:${':'.repeat(240)}]`,
      `${'a.'.repeat(31)}a@${'b.'.repeat(90)}c`,
      `"${' '.repeat(60)}"@[1.1.1.1]`,
    ];
    for (const input of corpus) {
      const name = JSON.stringify(input.slice(0, 12));
      bounded(`addressparser ${name}`, () => addressparser(input));
      bounded(`parseMailbox ${name}`, () => {
        try {
          parseMailbox(input, 'from');
        } catch {}
      });
      for (const verb of ['MAIL FROM', 'RCPT TO'] as const) {
        bounded(`${verb} ${name}`, () => parsePathCommand(`${verb}:<${input}>`, verb));
      }
    }
  });
});

describe('fuzz: the reply classifier (libs/core/src/delivery/classify.ts)', () => {
  const stages = ['connect', 'greeting', 'ehlo', 'starttls', 'mail', 'rcpt', 'data', 'end-of-data'] as const;
  const enhanced = fc
    .tuple(fc.constantFrom(2, 4, 5), fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 999 }))
    .map(([a, b, c]) => `${a}.${b}.${c}`);
  const replyText = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom(
      'No such user here',
      'Greylisted, try again in 5 minutes',
      'Too many recipients',
      'Service temporarily unavailable, try again later',
      'Message rejected as spam',
      'Mailbox full',
      'Client host rejected: cannot find your hostname',
    ),
  );
  const reply: fc.Arbitrary<SmtpReply> = fc
    .record({
      code: fc.integer({ min: 200, max: 599 }),
      enhanced: fc.option(enhanced, { nil: undefined }),
      text: replyText,
    })
    .map(({ code, enhanced: status, text }) => ({
      code,
      ...(status !== undefined && { enhanced: status }),
      text,
    }));
  const event: fc.Arbitrary<DeliveryEvent> = fc.oneof(
    fc.record({ kind: fc.constant('reply' as const), stage: fc.constantFrom(...stages), reply }),
    fc.record({
      kind: fc.constant('network' as const),
      stage: fc.constantFrom(...stages),
      failure: fc.constantFrom(
        'refused',
        'timeout',
        'reset',
        'closed-before-banner',
        'no-greeting',
        'tls-failed',
        'no-reply-after-dot',
      ),
    }),
    fc.record({
      kind: fc.constant('dns' as const),
      failure: fc.constantFrom('nxdomain', 'null-mx', 'no-address', 'temporary', 'private-address'),
    }),
    fc.record({ kind: fc.constant('expired' as const) }),
    fc.record({ kind: fc.constant('loop' as const), detail: fc.string({ maxLength: 10 }) }),
  );
  const ruleIds = new Set(CLASSIFICATION_RULES.map((rule) => rule.id));
  /** 5xx replies the rule table deliberately does not bounce (it says why, rule by rule). */
  const PERMANENT_NOT_BOUNCED = new Set([
    'permanent-greeting-or-ehlo',
    'too-many-recipients-552-at-rcpt',
    'permanent-saying-try-later',
  ]);

  test('any event: no throw, under 100 ms, a named rule; the verdict follows the reply code unless a rule says otherwise', () => {
    check(event, (input) => {
      const result = bounded('classify', () => classify(input));
      assert.ok(ruleIds.has(result.rule), result.rule);
      assert.match(result.status, /^[245]\.\d{1,3}\.\d{1,3}$/);
      assert.deepEqual(classify(input), result, 'pure: the same answer twice');
      if (input.kind === 'reply') {
        const { code } = input.reply;
        if (result.verdict === 'delivered')
          assert.ok(
            input.stage === 'end-of-data' && code < 300,
            'delivered only by a 2xx to the end of data',
          );
        if (code >= 400 && code < 500) assert.equal(result.verdict, 'deferred', 'a 4xx never bounces');
        if (code >= 500 && result.verdict !== 'bounced')
          assert.ok(PERMANENT_NOT_BOUNCED.has(result.rule), result.rule);
      } else {
        assert.notEqual(result.verdict, 'delivered', 'only a reply delivers');
      }
      const noReplyAfterDot = input.kind === 'network' && input.failure === 'no-reply-after-dot';
      assert.equal(
        result.possibleDuplicate === true,
        noReplyAfterDot,
        'a possible duplicate exactly when the dot went unanswered',
      );
    });
  });

  test('the status class agrees with the verdict (2 delivered, 4 deferred, 5 bounced) unless a rule says otherwise', () => {
    const exceptions = new Set(['permanent-greeting-or-ehlo', 'queue-lifetime-expired']);
    check(event, (input) => {
      const result = classify(input);
      if (exceptions.has(result.rule)) return;
      const expected = { delivered: '2', deferred: '4', bounced: '5' }[result.verdict];
      assert.equal(result.status[0], expected, `${JSON.stringify(input)} -> ${JSON.stringify(result)}`);
    });
  });

  test('reply lines: written out and read back, a reply is the same value', () => {
    const plainText = fc
      .string({ unit: 'grapheme-ascii', maxLength: 60 })
      .map((text) =>
        text
          .replace(/[\r\n]/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      )
      .filter((text) => !/^[245]\.\d/.test(text));
    const value = fc
      .record({
        code: fc.integer({ min: 200, max: 599 }),
        enhanced: fc.option(enhanced, { nil: undefined }),
        text: plainText,
      })
      .map(({ code, enhanced: status, text }) => ({
        code,
        ...(status !== undefined && { enhanced: status }),
        text,
      }));
    check(value, (input) => {
      assert.deepEqual(parseSmtpReply(formatSmtpReply(input)), input);
    });
  });

  test('hostile reply texts (64 KB of a repeated phrase): classified in under 100 ms each', () => {
    for (const phrase of [
      'exceeded ',
      'client host ',
      'hostname ',
      'too many ',
      'try again in 1',
      'rate ',
      'x',
    ]) {
      const text = phrase.repeat(Math.ceil(65_536 / phrase.length));
      bounded(`classifying 64 KB of ${JSON.stringify(phrase)}`, () =>
        classify({ kind: 'reply', stage: 'rcpt', reply: { code: 550, text } }),
      );
    }
  });
});

function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
