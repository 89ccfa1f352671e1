import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SmtpChannel } from '@outpost/smtp-client';
import { createConnectionPool, type PooledConnection } from '../src/connection-pool.ts';

/** A stand-in for an open SMTP connection: the pool reads these fields and may close it. */
function fakeConnection(createdAt: number): PooledConnection & { closed: () => boolean } {
  let closed = false;
  const channel = {
    open: true,
    transactions: 0,
    createdAt,
    close() {
      closed = true;
      this.open = false;
    },
  };
  return {
    channel: channel as unknown as SmtpChannel,
    host: 'mx.example.test',
    address: '127.0.0.2',
    port: 25,
    closed: () => closed,
  };
}

/** Parks and takes back one connection, one transaction each time, until the pool retires it. */
function transactionsUntilRetired(pool: ReturnType<typeof createConnectionPool>, entry: PooledConnection) {
  for (let count = 1; count < 1_000; count++) {
    (entry.channel as { transactions: number }).transactions = count;
    pool.park('d', entry);
    if (pool.take('d') !== entry) return count;
  }
  throw new Error('never retired');
}

test('each connection retires after its own share (80-100%) of the transaction limit', () => {
  const limits = { idleMs: 60_000, maxTransactions: 100, maxAgeMs: 3_600_000 };
  const shares = [0, 0.5, 0.999];
  const retiredAt = shares.map((share) => {
    const pool = createConnectionPool(limits, { random: () => share, now: () => 0 });
    const entry = fakeConnection(0);
    const count = transactionsUntilRetired(pool, entry);
    assert.ok((entry as ReturnType<typeof fakeConnection>).closed(), 'a retired connection is closed');
    return count;
  });
  assert.deepEqual(retiredAt, [100, 90, 80]);
});

test('connections opened together under the same load do not all retire together', () => {
  const pool = createConnectionPool({ idleMs: 60_000, maxTransactions: 100, maxAgeMs: 3_600_000 });
  const counts = Array.from({ length: 20 }, () => transactionsUntilRetired(pool, fakeConnection(Date.now())));
  assert.ok(
    counts.every((count) => count >= 80 && count <= 100),
    counts.join(' '),
  );
  assert.ok(new Set(counts).size > 5, `spread: ${counts.join(' ')}`);
});

test('the age limit has the same spread', () => {
  let clock = 0;
  const pool = createConnectionPool(
    { idleMs: 60_000, maxTransactions: 1_000, maxAgeMs: 100_000 },
    { random: () => 0.5, now: () => clock },
  );
  const entry = fakeConnection(0);
  clock = 89_999;
  pool.park('d', entry);
  assert.equal(pool.take('d'), entry, 'still young at 89.999 s');
  clock = 90_000;
  pool.park('d', entry);
  assert.equal(pool.take('d'), undefined, 'retired at 90% of the age limit');
  pool.closeAll();
});

test("a paused destination's idle connections are closed and their slots given back; others stay", async () => {
  const pool = createConnectionPool({ idleMs: 60_000, maxTransactions: 100, maxAgeMs: 3_600_000 });
  const released: string[] = [];
  const withLease = (name: string) => {
    const entry = fakeConnection(Date.now());
    entry.lease = {
      destination: name,
      release: async () => {
        released.push(name);
      },
    };
    return entry;
  };
  const paused = [withLease('paused-1'), withLease('paused-2')];
  const other = withLease('other');
  for (const entry of paused) pool.park('paused', entry);
  pool.park('other', other);
  await pool.closeDestination('paused');
  assert.deepEqual(released.sort(), ['paused-1', 'paused-2']);
  assert.ok(paused.every((entry) => entry.closed()));
  assert.equal(pool.take('paused'), undefined);
  assert.equal(pool.take('other'), other, 'another destination keeps its connection');
  await pool.closeAll();
});
