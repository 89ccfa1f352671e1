import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lookupTransport, parseTransportMap } from '../src/index.ts';

test('transport map entries, parents and the default relayhost', () => {
  const { map, problems } = parseTransportMap(
    'example.com=smtp://[10.0.0.5]:2525, .corp.example=lmtp://mailstore\n*=smtp://relay%40corp:p%3Ass@smarthost.example:587',
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(lookupTransport(map, 'EXAMPLE.com'), { protocol: 'smtp', host: '10.0.0.5', port: 2525 });
  assert.deepEqual(lookupTransport(map, 'eu.corp.example'), {
    protocol: 'lmtp',
    host: 'mailstore',
    port: 24,
  });
  assert.deepEqual(lookupTransport(map, 'elsewhere.example'), {
    protocol: 'smtp',
    host: 'smarthost.example',
    port: 587,
    auth: { user: 'relay@corp', pass: 'p:ss' },
  });
});

test('no default: unmapped domains use MX', () => {
  const { map } = parseTransportMap('example.com=smtp://mx.example.com');
  assert.equal(lookupTransport(map, 'other.example'), undefined);
  assert.equal(lookupTransport(map, 'example.com')?.port, 25);
});

test('bad entries are reported without echoing credentials', () => {
  const { problems } = parseTransportMap('example.com=http://user:secret@host, nonsense');
  assert.equal(problems.length, 2);
  assert.doesNotMatch(problems.join(' '), /secret/);
});
