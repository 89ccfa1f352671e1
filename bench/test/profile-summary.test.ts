import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selfAllocations, selfTimes } from '../src/profile-summary.ts';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

test('CPU profile: self time per function, the same function at two places of the tree summed', () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('parse', 'file:///code/a.js', 9), children: [4] },
      { id: 3, callFrame: frame('send', 'file:///code/b.js', 0) },
      { id: 4, callFrame: frame('send', 'file:///code/b.js', 0) },
    ],
    samples: [2, 3, 4, 4],
    timeDeltas: [1000, 2000, 3000, 4000],
  };
  const [first, second] = selfTimes(profile, '/code');
  assert.deepEqual(first, { name: 'send', where: 'b.js:1', ms: 9, share: 0.9 });
  assert.deepEqual(second, { name: 'parse', where: 'a.js:10', ms: 1, share: 0.1 });
});

test('allocation profile: bytes each function allocated itself, summed over the tree', () => {
  const profile = {
    head: {
      callFrame: frame('(root)'),
      selfSize: 0,
      children: [
        {
          callFrame: frame('readBody', 'file:///code/a.js', 4),
          selfSize: 3 * 1024,
          children: [{ callFrame: frame('concat', 'file:///code/b.js', 1), selfSize: 4 * 1024 }],
        },
        { callFrame: frame('concat', 'file:///code/b.js', 1), selfSize: 1024 },
      ],
    },
  };
  const entries = selfAllocations(profile, '/code');
  assert.deepEqual(
    entries.map(({ name, where, bytes }) => [name, where, bytes]),
    [
      ['concat', 'b.js:2', 5 * 1024],
      ['readBody', 'a.js:5', 3 * 1024],
    ],
  );
  assert.equal(entries[0]!.share, 5 / 8);
});
