import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createTestCa, type TestCa } from '../src/index.ts';

let ca: TestCa;
before(async () => {
  ca = await createTestCa();
});
after(() => ca.remove());

test('issues server certificates for the given names, signed by the CA', async () => {
  const authority = new X509Certificate(ca.cert);
  assert.equal(authority.ca, true);
  const leaf = new X509Certificate((await ca.issue(['mx.example.test', '*.pool.example.test'])).cert);
  assert.equal(leaf.ca, false);
  assert.equal(leaf.checkIssued(authority), true);
  assert.equal(leaf.verify(authority.publicKey), true);
  assert.equal(leaf.subjectAltName, 'DNS:mx.example.test, DNS:*.pool.example.test');
  assert.equal(leaf.checkHost('a.pool.example.test', { subject: 'never' }), '*.pool.example.test');
});

test('self-signed certificates are not the CA’s', async () => {
  const leaf = new X509Certificate((await ca.selfSigned(['mx.example.test'])).cert);
  assert.equal(leaf.checkIssued(new X509Certificate(ca.cert)), false);
  assert.equal(leaf.subjectAltName, 'DNS:mx.example.test');
});

test('names that are not DNS names are refused', async () => {
  await assert.rejects(ca.issue(['bad name']), /not a DNS name/);
  await assert.rejects(ca.issue(['a.test\nsubjectAltName=DNS:evil.test']), /not a DNS name/);
});
