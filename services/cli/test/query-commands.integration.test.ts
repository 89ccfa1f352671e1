import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { userInfo } from 'node:os';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { explainCategory, newMessageId } from '@outpost/core';
import type { DeliveryEntry } from '@outpost/store';
import { DeliveryWorld, waitFor } from '../../delivery/test/helpers.ts';

/** Runs `outpost <args>` with only the query commands, as its own process, against the world's Redis. */
const COMMANDS = fileURLToPath(new URL('../src/query-commands.ts', import.meta.url));
const SCRIPT = `
import { Command } from 'commander';
import { addQueryCommands } from ${JSON.stringify(COMMANDS)};
const program = new Command('outpost').enablePositionalOptions();
addQueryCommands(program);
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

async function outpost(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', SCRIPT, ...args], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { PATH: process.env.PATH ?? '', REDIS_URL: world.redis.url },
  }).then(
    (output) => ({ code: 0, ...output }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  return { code: result.code, stdout: String(result.stdout), stderr: String(result.stderr) };
}

let world: DeliveryWorld;
let mixed: string;
let waiting: string;

before(async () => {
  world = await DeliveryWorld.start();
  await world.startDelivery({ OUTPOST_RETRY_FIRST: '20s', OUTPOST_RETRY_MAX: '20s' });
  await world.receiver('127.0.0.2', {
    rcpt: (ctx) =>
      ctx.address.startsWith('nobody@')
        ? '550 5.1.1 <nobody@cli.test>: No such user'
        : ctx.address.startsWith('later@')
          ? '451 4.7.1 Greylisted'
          : undefined,
  });
  world.mx('cli.test', [{ name: 'mx.cli.test', priority: 10, a: ['127.0.0.2'] }]);
  world.mx('wait.test', [{ name: 'mx.cli.test', priority: 10, a: ['127.0.0.2'] }]);
  mixed = (await world.enqueue({ recipients: ['bob@cli.test', 'nobody@cli.test'] })).id;
  waiting = (await world.enqueue({ recipients: ['later@wait.test'] })).id;
  await world.waitForMessageDone(mixed);
  const queue = world.queue('delivery');
  await waitFor(async () => (await queue.getJob(`${waiting}.d0`))?.data.attempts === 1, 5_000, 'a deferral');
});
after(async () => {
  await world.stop();
});

test('outpost failures: exactly the bounced recipient, as JSON lines or a table; filters apply', async () => {
  const json = await outpost('failures', '--json');
  assert.equal(json.code, 0, json.stderr);
  const entries = json.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as DeliveryEntry);
  assert.deepEqual(
    entries.map((entry) => [entry.messageId, entry.address, entry.status, entry.replyCode]),
    [[mixed, 'nobody@cli.test', 'bounced', 550]],
  );
  const { diagnosis } = entries[0] as DeliveryEntry & { diagnosis?: { category: string; action: string } };
  assert.equal(diagnosis?.category, 'no_such_user');
  assert.equal(diagnosis?.action, explainCategory('no_such_user').operatorAction);
  const table = await outpost('failures', '--since', '10m');
  assert.match(table.stdout, /^TIME\tMESSAGE\tRECIPIENT/);
  assert.match(
    table.stdout,
    /nobody@cli\.test\tbounced\t5\.1\.1\tno_such_user\t550 <nobody@cli\.test>: No such user\n {2}why: .+\n {2}what to do: .+\n/,
  );
  assert.equal((await outpost('failures', '--domain', 'wait.test', '--json')).stdout, '');
  assert.equal((await outpost('failures', '--since', 'whenever')).code, 1);
});

test('outpost message <id>: the timeline with the transcript; --json has the whole view', async () => {
  const shown = await outpost('message', mixed);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^message ${mixed}  \\(finished\\)`));
  assert.match(shown.stdout, /^bob@cli\.test\tdelivered\t1\t/m);
  assert.match(shown.stdout, /^nobody@cli\.test\tbounced\t1\t5\.1\.1 no_such_user.*\n {2}why: .+\n/m);
  assert.match(shown.stdout, /attempt 1 to cli\.test via mx\.cli\.test \[127\.0\.0\.2\]/);
  assert.match(shown.stdout, /^ {6}S: 550 5\.1\.1 <nobody@cli\.test>: No such user$/m);
  assert.match(shown.stdout, /^ {6}C: RCPT TO:<nobody@cli\.test>$/m);
  assert.doesNotMatch(shown.stdout, /Hello\./);
  const json = JSON.parse((await outpost('message', 'show', mixed, '--json')).stdout) as { state: string };
  assert.equal(json.state, 'finished');
  const missing = await outpost('message', newMessageId());
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no message/);
});

test('outpost message hold|retry|release <id>: done and recorded with --by, or the OS user', async () => {
  const held = await outpost('message', 'hold', waiting, '--by', 'alice');
  assert.equal(held.code, 0, held.stderr);
  assert.match(held.stdout, new RegExp(`^${waiting}: held: 1 recipient`));
  assert.match((await outpost('message', waiting)).stdout, /HELD by alice since /);
  const retry = await outpost('message', 'retry', waiting);
  assert.equal(retry.code, 1, 'a held message is not retried');
  assert.match(retry.stderr, /is held: release it instead/);
  const queue = await outpost('queue');
  assert.match(queue.stdout, /^delivery: running$/m);
  assert.match(queue.stdout, /^held messages: 1$/m);
  assert.match(queue.stdout, new RegExp(`^oldest message: ${waiting}`, 'm'));

  assert.equal((await outpost('message', 'release', waiting)).code, 0);
  const timeline = (await outpost('message', waiting)).stdout;
  assert.match(timeline, /hold by alice/);
  assert.ok(timeline.includes(`release by ${userInfo().username}`), 'the OS user when --by is not given');
});

test('outpost queue hold|release --domain, and the counts as JSON', async () => {
  await waitFor(
    async () => (await (await world.queue('delivery').getJob(`${waiting}.d0`))?.getState()) === 'delayed',
    5_000,
    'the job to wait again',
  );
  const held = await outpost('queue', 'hold', '--domain', 'WAIT.test', '--by', 'dave');
  assert.equal(held.code, 0, held.stderr);
  assert.match(held.stdout, /^wait\.test: held, 1 queued message/);
  const overview = JSON.parse((await outpost('queue', '--json')).stdout) as {
    heldDomains: string[];
    queues: { delivery: Record<string, number> };
  };
  assert.deepEqual(overview.heldDomains, ['wait.test']);
  assert.equal(overview.queues.delivery.delayed, 1);
  assert.match((await outpost('message', waiting)).stdout, /^later@wait\.test\theld\t/m);
  assert.equal((await outpost('queue', 'hold')).code, 1, '--domain is required');
  const released = await outpost('queue', 'release', '--domain', 'wait.test');
  assert.equal(released.code, 0, released.stderr);
  assert.match(released.stdout, /^wait\.test: released, 1 delivery job\(s\) attempt now/);
});
