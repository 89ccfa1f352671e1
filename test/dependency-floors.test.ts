import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

/** Versions below these have known security problems (address parsing, SMTP command handling). */
const SECURITY_FLOORS: Record<string, string> = {
  nodemailer: '10.4.1',
  'smtp-server': '3.19.3',
};

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

function compare(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split('-')[0]!.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return (x![i] ?? 0) - (y![i] ?? 0);
  return 0;
}

test('every installed copy of a package with a security floor is at or above it', () => {
  for (const [name, floor] of Object.entries(SECURITY_FLOORS)) {
    const copies = Object.entries(lock.packages).filter(([path]) => path.endsWith(`node_modules/${name}`));
    assert.ok(copies.length > 0, `${name} is in package-lock.json`);
    for (const [path, entry] of copies) {
      assert.ok(compare(entry.version ?? '0.0.0', floor) >= 0, `${path} is ${entry.version}, below ${floor}`);
    }
  }
});

test('one copy of nodemailer: smtp-server and our code share it', () => {
  const copies = Object.keys(lock.packages).filter((path) => path.endsWith('node_modules/nodemailer'));
  assert.deepEqual(copies, ['node_modules/nodemailer']);
});
