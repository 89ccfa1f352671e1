import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const CLI = fileURLToPath(new URL('../bin/outpost.ts', import.meta.url));
const run = promisify(execFile);

test('outpost explain --json: one object per reply line read from standard input', async () => {
  const child = run(process.execPath, [CLI, 'explain', '--json']);
  child.child.stdin?.end(
    '550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown\n\n421 4.7.0 try again later\n',
  );
  const lines = (await child).stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    lines.map((line) => [line.verdict, line.status, line.category]),
    [
      ['permanent', '5.1.1', 'no_such_user'],
      ['temporary', '4.7.0', 'busy_try_later'],
    ],
  );
  assert.match(lines[0].explanation, /mailbox does not exist/);
});

test('outpost explain "<reply>" prints the verdict and the explanation', async () => {
  const { stdout } = await run(process.execPath, [
    CLI,
    'explain',
    '450 4.5.0 Mail system is Busy',
    '--stage',
    'mail',
  ]);
  assert.match(stdout, /^450 4\.5\.0 Mail system is Busy\n {2}temporary \(4\.5\.0\), busy_try_later\n {2}\S/);
});
