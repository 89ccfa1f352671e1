import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createSnapshot, resolveCommit } from '../src/snapshot.ts';

// A before/after pair is only sound when each side runs its own libs and services: the copy's
// workspace links must resolve inside the copy, while installed packages stay shared.

const repo = mkdtempSync(join(tmpdir(), 'outpost-snapshot-test-'));
after(() => rmSync(repo, { recursive: true, force: true }));

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
}

function write(path: string, text: string): void {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), text);
}

git('init', '-q');
write('libs/core/src/rule.ts', 'export const version = "committed";\n');
write('bench/src/main.ts', '// the harness\n');
git('add', '.');
git('-c', 'user.name=t', '-c', 'user.email=t@example.test', 'commit', '-q', '-m', 'first');
// Installed packages and the workspace links, as npm ci leaves them (not committed).
write('node_modules/left-pad/index.js', 'module.exports = 1;\n');
mkdirSync(join(repo, 'node_modules', '@outpost'));
symlinkSync('../../libs/core', join(repo, 'node_modules', '@outpost', 'core'));
// The change under test, not committed.
write('libs/core/src/rule.ts', 'export const version = "working tree";\n');

test('--at: the commit is resolved, and a wrong one is refused by name', () => {
  assert.equal(resolveCommit(repo, 'HEAD'), git('rev-parse', 'HEAD'));
  assert.throws(() => resolveCommit(repo, 'no-such-branch'), /--at no-such-branch: no such commit/);
});

test("a snapshot at a commit has the commit's code, its own workspace links and the shared packages", () => {
  const snapshot = createSnapshot(repo, resolveCommit(repo, 'HEAD'));
  try {
    const linked = join(snapshot.root, 'node_modules', '@outpost', 'core', 'src', 'rule.ts');
    assert.match(readFileSync(linked, 'utf8'), /"committed"/, 'the commit, not the working tree');
    assert.ok(
      realpathSync(linked).startsWith(realpathSync(snapshot.root)),
      'the workspace link resolves inside the copy',
    );
    assert.equal(
      realpathSync(join(snapshot.root, 'node_modules', 'left-pad')),
      realpathSync(join(repo, 'node_modules', 'left-pad')),
      'installed packages are shared',
    );
  } finally {
    snapshot.remove();
  }
});

test('a snapshot without a commit copies the working tree as it is', () => {
  const snapshot = createSnapshot(repo);
  try {
    const linked = join(snapshot.root, 'node_modules', '@outpost', 'core', 'src', 'rule.ts');
    assert.match(readFileSync(linked, 'utf8'), /"working tree"/);
    assert.ok(realpathSync(linked).startsWith(realpathSync(snapshot.root)));
  } finally {
    snapshot.remove();
  }
});
