import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CATEGORY_EXPLANATIONS,
  type DsnNotify,
  decodeXtext,
  describeDuration,
  encodeXtext,
  explainCategory,
  FAILURE_CATEGORIES,
  foldField,
  isValidEnvid,
  wantsNotification,
  wrapText,
} from '../src/index.ts';

test('xtext (RFC 3461 §4): "+", "=", controls and non-ASCII become +XX, and decode back', () => {
  assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
  assert.equal(encodeXtext('é'), '+C3+A9');
  assert.equal(encodeXtext('line\r\n'), 'line+0D+0A');
  for (const value of ['QQ314159', 'a+b=c d', 'bestellung é', '+', '']) {
    assert.equal(decodeXtext(encodeXtext(value)), value);
  }
  assert.equal(decodeXtext('a+2'), 'a+2', 'a "+" without two hex digits is literal');
});

test('ENVID (RFC 3461 §4.4): xtext of printable US-ASCII, at most 100 characters', () => {
  for (const good of ['QQ314159', 'order+2042+20x', 'a'.repeat(100), '+2B+3d']) {
    assert.equal(isValidEnvid(good), true, good);
  }
  for (const bad of ['a'.repeat(101), 'é', '+C3+A9', 'line+0D+0A', 'a=b', 'a+2', '', '+20'.repeat(101)]) {
    assert.equal(isValidEnvid(bad), false, bad);
  }
});

test('NOTIFY (RFC 3461 §4.1): NEVER, lists, and the default of failure and delay', () => {
  const cases: Array<[DsnNotify[] | undefined, string, boolean]> = [
    [undefined, 'failed', true],
    [undefined, 'delayed', true],
    [undefined, 'delivered', false],
    [[], 'failed', true],
    [['NEVER'], 'failed', false],
    [['NEVER'], 'delayed', false],
    [['SUCCESS'], 'delivered', true],
    [['SUCCESS'], 'failed', false],
    [['FAILURE'], 'failed', true],
    [['FAILURE'], 'delayed', false],
    [['DELAY'], 'delayed', true],
    [['DELAY'], 'failed', false],
    [['SUCCESS', 'FAILURE', 'DELAY'], 'delayed', true],
  ];
  for (const [notify, event, expected] of cases) {
    assert.equal(
      wantsNotification(notify, event as 'failed' | 'delayed' | 'delivered'),
      expected,
      `NOTIFY=${notify?.join(',') ?? '(none)'} for ${event}`,
    );
  }
});

test('every failure category has its own plain-language cause and advice', () => {
  const causes = new Set<string>();
  for (const category of FAILURE_CATEGORIES) {
    const explanation = CATEGORY_EXPLANATIONS[category];
    assert.ok(explanation.cause.length > 20 && explanation.advice.length > 5, category);
    assert.ok(explanation.operatorAction.length > 20, category);
    causes.add(explanation.cause);
  }
  assert.equal(causes.size, FAILURE_CATEGORIES.length, 'no two categories share a cause');
  assert.equal(explainCategory('not-a-category'), CATEGORY_EXPLANATIONS.unknown);
  assert.match(explainCategory('policy_ip_or_ptr').cause, /reverse DNS/);
});

test('durations read as people say them', () => {
  assert.equal(describeDuration(5 * 86_400_000), '5 days');
  assert.equal(describeDuration(86_400_000), '1 day');
  assert.equal(describeDuration(4 * 3_600_000), '4 hours');
  assert.equal(describeDuration(90_000), '2 minutes');
  assert.equal(describeDuration(1_500), '2 seconds');
  assert.equal(describeDuration(10), '1 second');
});

test('fields fold at spaces under 78 characters; prose wraps at 72', () => {
  const folded = foldField('Diagnostic-Code', `smtp; 550 ${'word '.repeat(30)}end`);
  const lines = folded.split('\r\n');
  assert.ok(lines.length > 1);
  assert.ok(lines.every((line) => line.length <= 78));
  assert.ok(lines.slice(1).every((line) => line.startsWith(' ')));
  assert.equal(lines.join('').replace(/ +/g, ' '), `Diagnostic-Code: smtp; 550 ${'word '.repeat(30)}end`);
  assert.equal(foldField('Action', 'failed'), 'Action: failed');
  const long = foldField('X', 'a'.repeat(2_000));
  assert.ok(
    long.split('\r\n').every((line) => line.length <= 998),
    'hard limit of RFC 5322 §2.1.1',
  );

  const wrapped = wrapText('one two three four five six', 10, '  ');
  assert.deepEqual(wrapped, ['  one two', '  three', '  four', '  five six']);
});
