import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { asciiAddress, asciiDomain, type PathCommand, parsePathCommand } from '../src/index.ts';

const rcpt = (path: string) => parsePathCommand(`RCPT TO:<${path}>`, 'RCPT TO');
const problem = (result: PathCommand) => (result.ok ? 'ok' : result.problem);

test('ordinary paths, parameters and the null sender', () => {
  assert.deepEqual(parsePathCommand('MAIL FROM:<Alice@Example.COM> SIZE=1000 BODY=8BITMIME', 'MAIL FROM'), {
    ok: true,
    mailbox: { localPart: 'Alice', domain: 'example.com', address: 'Alice@example.com' },
    utf8: false,
    params: { SIZE: '1000', BODY: '8BITMIME' },
  });
  assert.deepEqual(parsePathCommand('mail from:<>', 'MAIL FROM'), {
    ok: true,
    mailbox: null,
    utf8: false,
    params: {},
  });
  assert.equal(problem(parsePathCommand('RCPT TO:<>', 'RCPT TO')), 'syntax');
  assert.equal(problem(parsePathCommand('RCPT TO: <bob@example.org>', 'RCPT TO')), 'ok');
  assert.equal(problem(parsePathCommand('RCPT TO:bob@example.org', 'RCPT TO')), 'syntax');
  assert.equal(problem(parsePathCommand('RCPT TO:<bob@example.org>NOTIFY=NEVER', 'RCPT TO')), 'syntax');
  assert.equal(problem(parsePathCommand('MAIL FROM:<bob@example.org>', 'RCPT TO')), 'syntax');
  assert.equal(problem(rcpt('"john smith"@example.org')), 'ok');
  assert.equal(problem(rcpt('bob@[192.0.2.1]')), 'ok');
  assert.equal(problem(rcpt('bob@[IPv6:2001:db8::1]')), 'ok');
});

test('routing syntax is refused, never rewritten', () => {
  for (const path of [
    'bob%example.org@ours.test',
    'example.org!bob@ours.test',
    '@ours.test:bob@example.org',
    '@a.test,@b.test:bob@example.org',
    'bob@example.org@ours.test',
    '"bob@example.org"@ours.test',
    '"bob%example.org"@ours.test',
    '"example.org!bob"@ours.test',
    'bob%example.org',
    'example.org!bob',
  ]) {
    assert.equal(problem(rcpt(path)), 'routing', path);
  }
  for (const path of ['bob', '"bob@example.org"', 'bob@example.org.', 'bob@localhost', 'a..b@example.org']) {
    assert.notEqual(problem(rcpt(path)), 'ok', path);
  }
});

test('lengths are checked before parsing (RFC 5321 §4.5.3.1)', () => {
  assert.equal(problem(rcpt(`${'l'.repeat(64)}@example.org`)), 'ok');
  assert.equal(problem(rcpt(`${'l'.repeat(65)}@example.org`)), 'localPartTooLong');
  assert.equal(problem(rcpt(`${'ü'.repeat(33)}@example.org`)), 'localPartTooLong', 'octets, not characters');
  assert.equal(problem(rcpt(`bob@${'d'.repeat(256)}`)), 'domainTooLong');
  const label = 'd'.repeat(60);
  assert.equal(
    problem(rcpt(`${'l'.repeat(64)}@${[label, label, label].join('.')}.example.org`)),
    'pathTooLong',
  );
});

test('UTF-8 paths are flagged and their domains become A-labels', () => {
  const result = parsePathCommand('MAIL FROM:<jösé@Bücher.example> SMTPUTF8', 'MAIL FROM');
  assert.ok(result.ok);
  assert.equal(result.utf8, true);
  assert.equal(result.params.SMTPUTF8, true);
  assert.deepEqual(result.mailbox, {
    localPart: 'jösé',
    domain: 'xn--bcher-kva.example',
    address: 'jösé@xn--bcher-kva.example',
  });
  const ascii = rcpt('bob@XN--BCHER-KVA.example');
  assert.ok(ascii.ok);
  assert.equal(ascii.utf8, false);
  assert.equal(ascii.mailbox?.domain, 'xn--bcher-kva.example');
});

test('A-label helpers', () => {
  assert.equal(asciiDomain('München.Example'), 'xn--mnchen-3ya.example');
  assert.equal(asciiDomain('[192.0.2.1]'), '[192.0.2.1]');
  assert.equal(asciiDomain(`${'ü'.repeat(70)}.example`), undefined);
  assert.equal(asciiAddress('Ñandú@münchen.example'), 'Ñandú@xn--mnchen-3ya.example');
  assert.equal(asciiAddress('postmaster'), 'postmaster');
});

test('the fast path for plain addresses agrees with the full grammar', async () => {
  const { parse } = await import('smtp-address-parser');
  const locals = ['bob', 'b.o.b', "o'neil", 'a+tag', 'x_y-z', '#$&*/=?^`{|}~', 'UPPER.Case', '1'];
  const domains = ['example.org', 'Mail.Example.COM', 'a-b.c-d.test', 'x1.y2', 'sub.sub.example.co.uk'];
  for (const local of locals) {
    for (const domain of domains) {
      const inner = `${local}@${domain}`;
      const parsed = parse(inner) as {
        localPart: { DotString?: string };
        domainPart: { DomainName?: string };
      };
      const result = rcpt(inner);
      assert.ok(result.ok, inner);
      assert.equal(result.mailbox?.localPart, parsed.localPart.DotString, inner);
      assert.equal(result.mailbox?.domain, parsed.domainPart.DomainName!.toLowerCase(), inner);
    }
  }
});

test('a one-letter or numeric top-level label is refused on every path, never read as an address (RFC 3696 §2)', () => {
  // The grammar refuses a one-letter TLD: the fast path for plain addresses must too.
  assert.equal(problem(rcpt('bob@example.a')), 'syntax');
  // All-digit or hex TLDs: the URL host parser would turn these into IPv4 addresses.
  for (const domain of ['0.00', '0x7f.01', 'example.123', '1.2.3.45', 'a.0x1']) {
    assert.equal(problem(rcpt(`bob@${domain}`)), 'syntax', domain);
    assert.equal(asciiDomain(domain), undefined, domain);
  }
  assert.equal(problem(rcpt('bob@123.example')), 'ok', 'a numeric label elsewhere is fine');
});

test('an LDH domain converts exactly as the URL parser converts it (the fast path agrees with domainToASCII)', () => {
  // The conversion without the fast path: the URL host parser, then the same checks.
  const numericTop = /(?:^|\.)(?:\d+|0x[0-9a-f]*)\.?$/i;
  const reference = (domain: string): string | undefined => {
    if (numericTop.test(domain)) return undefined;
    const ascii = domainToASCII(domain);
    if (ascii === '' || numericTop.test(ascii)) return undefined;
    return ascii.split('.').some((label) => label.length === 0 || label.length > 63) ? undefined : ascii;
  };
  for (const domain of [
    'Example.COM',
    'example.com.',
    'ab--cd.example',
    '-a.b-',
    'a..b',
    '.a',
    'xn--bcher-kva.example',
    'XN--BCHER-KVA.Example',
    'xn--invalid-.example',
    'a.xn--',
    '1.2.3.4',
    '1.2.3.example',
  ]) {
    assert.equal(asciiDomain(domain), reference(domain), domain);
  }
  const ldh = fc.string({ unit: fc.constantFrom(...'aZ09-.x'.split('')), minLength: 1, maxLength: 24 });
  const domains = fc.oneof(
    ldh,
    fc.tuple(fc.constantFrom('xn--', 'XN--', 'a.xn--'), ldh).map(([prefix, rest]) => prefix + rest),
    fc
      .tuple(fc.string({ unit: fc.constantFrom('a', '-'), minLength: 64, maxLength: 70 }), ldh)
      .map(([long, rest]) => `${long}.${rest}`),
  );
  fc.assert(
    fc.property(domains, (domain) => asciiDomain(domain) === reference(domain)),
    { numRuns: 5_000 },
  );
});
