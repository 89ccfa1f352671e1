import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeDkimRecord, judgeReverseDns, looksDynamic } from '../src/index.ts';

test('dynamic-looking PTR names (the FAQ: "ppp", "adsl" ...) and real mail server names', () => {
  for (const name of [
    'ppp-1-2-3-4.isp.example',
    'adsl.pool.example',
    'dyn-42.cable.example',
    '203-0-113-5.example.net',
    'host.dhcp.example',
  ]) {
    assert.equal(looksDynamic(name), true, name);
  }
  for (const name of ['mail.example.com', 'mx1.example.org', 'smtp-out.example.net', 'outpost.example']) {
    assert.equal(looksDynamic(name), false, name);
  }
});

test('reverse DNS: forward-confirmed and named like the HELO is all ok', () => {
  const results = judgeReverseDns(
    '192.0.2.1',
    ['mail.example.com'],
    new Map([['mail.example.com', ['192.0.2.1']]]),
    'mail.example.com',
  );
  assert.deepEqual(
    results.map((result) => result.status),
    ['ok', 'ok'],
  );
});

test('a DKIM record with the p= of another key fails; the same key passes', () => {
  assert.equal(judgeDkimRecord('s._domainkey.x', ['v=DKIM1; k=rsa; p=ABC'], 'ABC').status, 'ok');
  assert.equal(judgeDkimRecord('s._domainkey.x', ['v=DKIM1; k=rsa; p=XYZ'], 'ABC').status, 'fail');
  assert.equal(judgeDkimRecord('s._domainkey.x', new Error('ENOTFOUND'), 'ABC').status, 'fail');
});
