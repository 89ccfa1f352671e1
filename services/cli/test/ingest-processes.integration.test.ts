import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { type OutpostProcess, spawnOutpost, submitMessage, TestRedis } from '@outpost/testing';

// `outpost ingest` with OUTPOST_INGEST_PROCESSES=2: a primary and two worker processes sharing the
// listening sockets, run as a user runs it, against a throwaway Redis.
let redis: TestRedis;
const processes: OutpostProcess[] = [];

before(async () => {
  redis = await TestRedis.start();
});
after(async () => {
  await Promise.all(processes.map((process) => process.kill('SIGKILL')));
  await redis.stop();
});

const env = (overrides: Record<string, string> = {}) => ({
  OUTPOST_ENV: 'development',
  OUTPOST_HOSTNAME: 'outpost.test',
  REDIS_URL: redis.url,
  LOG_LEVEL: 'info',
  OUTPOST_SMTP_LISTEN: '127.0.0.1:0',
  OUTPOST_HTTP_LISTEN: '127.0.0.1:0',
  OUTPOST_INGEST_PROCESSES: '2',
  OUTPOST_SHUTDOWN_GRACE: '2s',
  ...overrides,
});

const childPids = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((value) => value > 0);
  } catch {
    return []; // ps exits 1 when there is no child
  }
};

const waitFor = async <T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

const listening = (ingest: OutpostProcess) => ingest.logs.filter((line) => line.msg === 'ingest listening');

const send = (port: number, index: number) =>
  submitMessage({
    port,
    from: 'alice@example.com',
    to: [`bob${index}@example.net`],
    message: `From: alice@example.com\r\nTo: bob${index}@example.net\r\nSubject: ${index}\r\n\r\nHello.\r\n`,
  });

const acceptedTotal = async (httpPort: number): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text
    .split('\n')
    .find((row) => row.startsWith('outpost_ingest_messages_accepted_total{protocol="smtp"}'));
  if (!line) throw new Error(`no accepted count in /metrics:\n${text.slice(0, 3000)}`);
  return Number(line.split(' ').at(-1));
};

test('two ingest processes share one port, both accept mail, and /metrics sums them', async () => {
  const ingest = spawnOutpost('ingest', env());
  processes.push(ingest);
  await waitFor(() => (listening(ingest).length === 2 ? true : undefined), 'two "ingest listening" lines');
  const [first, second] = listening(ingest);
  const port = (first!.smtp as { port: number }).port;
  const httpPort = (first!.http as { port: number }).port;
  assert.equal((second!.smtp as { port: number }).port, port, 'both workers listen on the same SMTP port');
  assert.notEqual(first!.pid, second!.pid, 'two processes');
  assert.deepEqual(childPids(ingest.child.pid!).sort(), [first!.pid, second!.pid].sort());

  // Connections are handed to the workers in turn, so six sessions reach both.
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map((index) => send(port, index)));
  for (const result of results) assert.match(result.response, /^250 2\.0\.0 Ok: queued as /);
  // One-domain messages: each is one solo delivery job `<id>.d0` with its body beside it.
  const queued = await redis.client().keys('{outpost}:body:*');
  assert.equal(queued.length, 6, `6 messages queued: ${queued}`);
  for (const key of queued) {
    const id = key.slice(key.lastIndexOf(':') + 1);
    assert.equal(await redis.client().exists(`{outpost}:delivery:${id}.d0`), 1, `${id} has its delivery job`);
  }
  // Whichever worker answers the scrape, the count covers both.
  assert.equal(await acceptedTotal(httpPort), 6);
  assert.equal(await acceptedTotal(httpPort), 6);

  const code = await ingest.kill('SIGTERM');
  assert.equal(code, 0);
  assert.deepEqual(childPids(ingest.child.pid!), []);
});

test('a worker killed with -9 is replaced and the port keeps accepting', async () => {
  const ingest = spawnOutpost('ingest', env());
  processes.push(ingest);
  await waitFor(() => (listening(ingest).length === 2 ? true : undefined), 'two workers listening');
  const port = (listening(ingest)[0]!.smtp as { port: number }).port;
  const victim = listening(ingest)[0]!.pid as number;
  process.kill(victim, 'SIGKILL');
  await ingest.waitForLog((line) => line.msg === 'ingest worker exited; starting a new one');
  await waitFor(() => (listening(ingest).length === 3 ? true : undefined), 'a third "ingest listening" line');
  const pids = childPids(ingest.child.pid!);
  assert.equal(pids.length, 2);
  assert.ok(!pids.includes(victim));
  for (const index of [10, 11, 12, 13]) assert.match((await send(port, index)).response, /^250 /);
  assert.equal(await ingest.kill('SIGTERM'), 0);
});

test('workers that cannot start make the primary give up with exit code 1 instead of looping', async () => {
  const squatter = createServer().listen(0, '127.0.0.1');
  await once(squatter, 'listening');
  const taken = (squatter.address() as AddressInfo).port;
  try {
    const ingest = spawnOutpost('ingest', env({ OUTPOST_SMTP_LISTEN: `127.0.0.1:${taken}` }));
    processes.push(ingest);
    const code = await new Promise<number | null>((resolve) => ingest.child.once('exit', resolve));
    assert.equal(code, 1);
    assert.ok(ingest.logs.some((line) => String(line.msg).startsWith('ingest workers keep exiting')));
  } finally {
    squatter.close();
  }
});
