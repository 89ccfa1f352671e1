import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SmtpRuleContext } from '@outpost/testing';
import { SEED, seededRandom, size } from './support/scale.ts';
import { type Submission, submitAll, toAccepted } from './support/submit.ts';
import { assertNoViolations, ReliabilityWorld } from './support/world.ts';

// Load: MESSAGES messages through ingest (SMTP) and one delivery worker to four receivers, each
// answering 30% of RCPT and end-of-data replies with a random 421, 450 or 451. Every recipient must
// end delivered, exactly once, with a record and a span for every attempt (I1-I5).
const MESSAGES = size(1_000, 10_000);
const FAULT_RATE = 0.3;
const TEMPORARY = ['421 4.3.2 Too busy, closing', '450 4.2.1 Mailbox busy', '451 4.3.0 Local error'];
const DOMAINS = ['load-a.test', 'load-b.test', 'load-c.test', 'load-d.test'];

let world: ReliabilityWorld;
const faults = { rcpt: 0, data: 0 };
before(async () => {
  // This scenario is about retries, not crashes: Redis fsyncs once a second instead of per write,
  // which on a slow disk would otherwise set the pace (the crash scenarios keep fsync per write).
  world = await ReliabilityWorld.start({ appendfsync: 'everysec' });
  const random = seededRandom(SEED);
  const flaky = (stage: 'rcpt' | 'data') => (_ctx: SmtpRuleContext) => {
    if (random() >= FAULT_RATE) return undefined;
    faults[stage]++;
    return TEMPORARY[Math.floor(random() * TEMPORARY.length)];
  };
  for (const [index, domain] of DOMAINS.entries()) {
    const host = `127.0.0.${index + 2}`;
    await world.receiver(host, { rcpt: flaky('rcpt'), data: flaky('data') });
    world.mx(domain, host);
  }
  await world.startBounce();
  await world.startDelivery({ OUTPOST_DELIVERY_CONCURRENCY: '40' });
});
after(async () => {
  await world?.stop();
});

test(`${MESSAGES} messages, 30% random 421/450/451 at RCPT or after DATA: all delivered exactly once (seed ${SEED})`, async (t) => {
  const ingest = await world.startIngest();
  const random = seededRandom(SEED + 1);
  const submissions: Submission[] = Array.from({ length: MESSAGES }, (_, i) => {
    const count = 1 + Math.floor(random() * 3);
    const recipients = Array.from(
      { length: count },
      (_, r) => `user${i}.${r}@${DOMAINS[Math.floor(random() * DOMAINS.length)]}`,
    );
    return {
      sender: 'loader@origin.test',
      recipients,
      message: `From: loader@origin.test\r\nSubject: load ${i}\r\n\r\nMessage ${i}.\r\n`,
    };
  });
  const started = Date.now();
  const results = await submitAll(ingest.addresses.smtp.port, submissions, 8);
  const submittedMs = Date.now() - started;
  for (const [i, result] of results.entries()) {
    const entry = toAccepted(submissions[i]!, result);
    if (entry) world.accepted.push(entry);
  }
  assert.equal(world.accepted.length, MESSAGES, 'ingest accepted every message');

  await world.settled(size(90_000, 600_000));
  const drainedMs = Date.now() - started;
  const report = await world.check({ spansComplete: true });
  assertNoViolations(report);

  const recipients = world.accepted.flatMap((message) => message.recipients).length;
  assert.equal(report.summary.recipients, recipients);
  assert.equal(report.summary.duplicates, 0, 'exactly once');
  assert.equal(report.summary.dsns, 0, 'nothing bounced');
  const delivered = [...world.receivers.values()].flatMap((receiver) => receiver.messages);
  assert.equal(new Set(delivered.flatMap((copy) => copy.to)).size, recipients, 'every recipient reached');
  assert.ok(faults.rcpt + faults.data > 0, 'faults were injected');
  assert.ok(report.summary.attempts > world.accepted.length, 'and retried');
  t.diagnostic(
    `seed ${SEED}: ${MESSAGES} messages, ${recipients} recipients; faults rcpt ${faults.rcpt}, data ${faults.data}; ` +
      `${report.summary.attempts} attempts; submitted in ${submittedMs} ms, all delivered after ${drainedMs} ms`,
  );
});
