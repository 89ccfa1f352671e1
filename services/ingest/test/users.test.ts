import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, isPasswordHash, mayUseSender, parseUsersFile, verifyPassword } from '../src/index.ts';

test('password hashes verify the right password only', async () => {
  const hash = await hashPassword('correct horse');
  assert.ok(isPasswordHash(hash), hash);
  assert.notEqual(hash, await hashPassword('correct horse'), 'salted');
  assert.equal(await verifyPassword(hash, 'correct horse'), true);
  assert.equal(await verifyPassword(hash, 'correct horsE'), false);
  assert.equal(await verifyPassword('plain-text', 'plain-text'), false, 'a malformed hash never verifies');
});

test('users file: names, hashes and allowed senders; comments ignored; bad lines reported', async () => {
  const hash = await hashPassword('x');
  const users = parseUsersFile(
    `# comment\n\nalice:${hash}:Alice@Example.com, @alice.example\nbot:${hash}:*\n`,
  );
  assert.deepEqual(users.get('alice')?.allowedSenders, ['alice@example.com', '@alice.example']);
  assert.deepEqual(users.get('bot')?.allowedSenders, ['*']);
  assert.throws(() => parseUsersFile('carol:notahash:carol@example.com\n'), /line 1/);
});

test('sender ownership', async () => {
  const user = {
    name: 'alice',
    passwordHash: '',
    allowedSenders: ['alice@example.com', '@alice.example', '<>'],
  };
  assert.equal(mayUseSender(user, 'ALICE@example.com'), true);
  assert.equal(mayUseSender(user, 'news@alice.example'), true);
  assert.equal(mayUseSender(user, 'news@evil-alice.example'), false);
  assert.equal(mayUseSender(user, 'x@sub.alice.example'), false);
  assert.equal(mayUseSender(user, 'bob@example.com'), false);
  assert.equal(mayUseSender(user, ''), true);
  assert.equal(mayUseSender({ ...user, allowedSenders: ['alice@example.com'] }, ''), false);
});
