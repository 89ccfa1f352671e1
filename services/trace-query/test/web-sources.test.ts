import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

/**
 * The page shows text from remote servers (replies, transcripts): no source of it may turn a
 * string into markup or code. The browser test checks one hostile line; this checks every path.
 */
const WEB_DIR = new URL('../src/web/', import.meta.url);
const FORBIDDEN = [
  /\.innerHTML\b/,
  /\.outerHTML\b/,
  /insertAdjacentHTML/,
  /document\.write/,
  /\beval\(/,
  /new Function\(/,
  /createContextualFragment/,
  /\.setAttribute\(\s*['"]on/,
  /\bstyle\s*=/,
];

test('the web page sources never build markup from strings, nor run strings as code', () => {
  const files = readdirSync(WEB_DIR).filter((name) => name.endsWith('.js'));
  assert.ok(files.length >= 5, `found ${files.join(', ')}`);
  for (const name of files) {
    const source = readFileSync(new URL(name, WEB_DIR), 'utf8');
    for (const pattern of FORBIDDEN) assert.doesNotMatch(source, pattern, `${name} uses ${pattern}`);
  }
});

test('index.html has no inline script or style (the CSP would refuse them)', () => {
  const html = readFileSync(new URL('index.html', WEB_DIR), 'utf8');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
});
