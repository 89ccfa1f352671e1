import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AttemptFacts,
  checkInvariants,
  formatViolations,
  type ReceivedCopy,
  type ScenarioSnapshot,
} from './invariants.ts';

// The checker must be able to fail: each test builds a state that breaks one invariant on purpose
// and expects exactly that violation, named precisely.

const M1 = '01900000-0000-7000-8000-000000000001';
const M2 = '01900000-0000-7000-8000-000000000002';
const DSN = '01900000-0000-7000-8000-0000000000d5';
const TRACE = '0af7651916cd43dd8448eb211c80319c';

function copy(id: string, to: string[], from = 'alice@origin.test', extraHeader = ''): ReceivedCopy {
  const data = Buffer.from(
    `Received: from client (127.0.0.1)\r\n\tby outpost.test (Outpost) with ESMTP id ${id};\r\n\tFri, 27 Nov 2026 00:00:00 +0000\r\n${extraHeader}Subject: test\r\n\r\nHello.\r\n`,
  );
  return { receiver: '127.0.0.2', from, to, data };
}

function attempt(overrides: Partial<AttemptFacts> & Pick<AttemptFacts, 'messageId'>): AttemptFacts {
  return {
    domain: 'dest.test',
    attempt: 1,
    traceId: TRACE,
    sessions: 1,
    recipients: [{ address: 'bob@dest.test', verdict: 'delivered', status: 'delivered' }],
    ...overrides,
  };
}

/** One message to bob, delivered once, recorded, traced: no violation. */
function healthy(): ScenarioSnapshot {
  return {
    accepted: [{ id: M1, sender: 'alice@origin.test', recipients: ['bob@dest.test'] }],
    received: [copy(M1, ['bob@dest.test'])],
    states: new Map([[M1, new Map([['bob@dest.test', 'delivered']])]]),
    attempts: [attempt({ messageId: M1 })],
    meta: new Map([
      [
        M1,
        {
          sender: 'alice@origin.test',
          recipients: ['bob@dest.test'],
          traceparent: `00-${TRACE}-00f067aa0ba902b7-01`,
          messageIdHeader: `<${M1}@outpost.test>`,
        },
      ],
    ]),
    jobs: [],
    bodies: [],
    spans: [
      {
        name: 'delivery.attempt',
        traceId: TRACE,
        attributes: { 'outpost.message.id': M1, 'outpost.domain': 'dest.test', 'outpost.attempt': 1 },
      },
    ],
  };
}

const invariantsOf = (snapshot: ScenarioSnapshot, allowances = {}) =>
  checkInvariants(snapshot, allowances).violations.map((violation) => violation.invariant);

test('a healthy scenario has no violation, and its summary counts what happened', () => {
  const report = checkInvariants(healthy(), { spansComplete: true });
  assert.deepEqual(report.violations, [], formatViolations(report));
  assert.deepEqual(report.summary, {
    messages: 1,
    recipients: 1,
    copies: 1,
    duplicates: 0,
    attempts: 1,
    dsns: 0,
    spans: 1,
  });
});

test('I1: a recipient still deferred, one without any state, and a job still pending', () => {
  const snapshot = healthy();
  snapshot.accepted[0]!.recipients.push('carol@dest.test', 'dave@dest.test');
  snapshot.states.get(M1)!.set('carol@dest.test', 'deferred');
  snapshot.jobs.push({
    queue: 'delivery',
    id: `${M1}.d0`,
    state: 'delayed',
    messageId: M1,
    recipients: ['carol@dest.test'],
  });
  const report = checkInvariants(snapshot);
  assert.deepEqual(
    report.violations.map((violation) => violation.message),
    [
      `${M1} <carol@dest.test>: deferred, not final`,
      `${M1} <dave@dest.test>: no state in the delivery log`,
      `${M1}: delivery job ${M1}.d0 still delayed`,
    ],
  );
  assert.ok(report.violations.every((violation) => violation.invariant === 'I1'));
});

test('I1: delivered according to the log, but no receiver has the message', () => {
  const snapshot = healthy();
  snapshot.received = [];
  const report = checkInvariants(snapshot);
  assert.deepEqual(
    report.violations.map((v) => [v.invariant, v.message]),
    [['I1', `${M1} <bob@dest.test>: delivered in the log, but no receiver has it`]],
  );
});

test('I2: a second copy outside any window is a violation; inside, it must be counted or explained', () => {
  const snapshot = healthy();
  snapshot.received.push(copy(M1, ['BOB@dest.test']));
  // A second record says delivered too, so only I2 speaks.
  snapshot.attempts.push(attempt({ messageId: M1, attempt: 2 }));
  snapshot.spans!.push({
    ...snapshot.spans![0]!,
    attributes: { ...snapshot.spans![0]!.attributes, 'outpost.attempt': 2 },
  });
  assert.deepEqual(
    checkInvariants(snapshot).violations.map((v) => [v.invariant, v.message]),
    [['I2', `${M1} <bob@dest.test>: 2 copies at the receivers`]],
  );

  const window = { window: 'worker killed after the 250', faults: 1 };
  assert.deepEqual(
    checkInvariants(snapshot, { duplicates: window }).violations.map((v) => v.message),
    [
      `${M1} <bob@dest.test>: duplicate not counted by the product (no attempt flagged it a possible duplicate)`,
    ],
  );
  const explained = checkInvariants(snapshot, {
    duplicates: { ...window, uncounted: 'SMTP cannot tell a resend' },
  });
  assert.deepEqual(explained.violations, []);
  assert.deepEqual(explained.explained, [`${M1} <bob@dest.test>: duplicate, SMTP cannot tell a resend`]);

  snapshot.attempts[0]!.recipients[0] = {
    address: 'bob@dest.test',
    verdict: 'deferred',
    status: 'deferred',
    possibleDuplicate: true,
  };
  const counted = checkInvariants(snapshot, { duplicates: window });
  assert.deepEqual(counted.violations, []);
  assert.equal(counted.summary.duplicates, 1);
});

test('I2: more duplicates than injected faults, or two extra copies of one message', () => {
  const snapshot = healthy();
  snapshot.received.push(copy(M1, ['bob@dest.test']), copy(M1, ['bob@dest.test']));
  const report = checkInvariants(snapshot, {
    duplicates: { window: 'one fault', faults: 1, uncounted: 'explained' },
    unrecordedAttempts: 2,
  });
  assert.deepEqual(
    report.violations.map((v) => [v.invariant, v.message]),
    [
      ['I2', `${M1} <bob@dest.test>: 3 copies, more than one extra per fault in "one fault"`],
      ['I2', '2 repeated transaction(s) in "one fault", more than its 1 injected fault(s)'],
    ],
  );
});

test('I3: a DSN from a real sender, and a report about a message from <> sent to someone', () => {
  const snapshot = healthy();
  snapshot.accepted.push({ id: M2, sender: '', recipients: ['gone@dest.test'] });
  snapshot.states.set(M2, new Map([['gone@dest.test', 'bounced']]));
  snapshot.meta.set(M2, {
    sender: '',
    recipients: ['gone@dest.test'],
    messageIdHeader: `<${M2}@outpost.test>`,
  });
  const dsnHeader = `In-Reply-To: <${M2}@outpost.test>\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary="b"\r\n`;
  snapshot.received.push(copy(DSN, ['someone@origin.test'], 'mailer-daemon@outpost.test', dsnHeader));
  snapshot.meta.set(DSN, { sender: 'mailer-daemon@outpost.test', recipients: ['someone@origin.test'] });
  snapshot.states.set(DSN, new Map([['someone@origin.test', 'delivered']]));
  snapshot.attempts.push(
    attempt({
      messageId: DSN,
      domain: 'origin.test',
      recipients: [{ address: 'someone@origin.test', verdict: 'delivered', status: 'delivered' }],
    }),
  );
  const report = checkInvariants(snapshot, { postmaster: 'postmaster@ops.test' });
  assert.deepEqual(
    report.violations.filter((v) => v.invariant === 'I3').map((v) => v.message),
    [
      `DSN ${DSN} sent from <mailer-daemon@outpost.test>, not <>`,
      `DSN ${DSN} about <${M2}@outpost.test>, a message from <>, sent to someone@origin.test`,
    ],
  );
  assert.equal(report.summary.dsns, 1);

  // The same report to the postmaster, from <>, is what the product is meant to do.
  const fine = healthy();
  fine.meta.set(M2, { sender: '', recipients: ['gone@dest.test'], messageIdHeader: `<${M2}@outpost.test>` });
  fine.received.push(copy(DSN, ['postmaster@ops.test'], '', dsnHeader));
  fine.attempts.push(
    attempt({
      messageId: DSN,
      domain: 'ops.test',
      recipients: [{ address: 'postmaster@ops.test', verdict: 'delivered', status: 'delivered' }],
    }),
  );
  fine.meta.set(DSN, { sender: '', recipients: ['postmaster@ops.test'] });
  assert.deepEqual(invariantsOf(fine, { postmaster: 'postmaster@ops.test' }), []);

  const queuedToNull = healthy();
  queuedToNull.meta.set(DSN, { sender: '', recipients: [''] });
  assert.deepEqual(
    checkInvariants(queuedToNull).violations.map((v) => v.message),
    [`DSN ${DSN} queued to <>`],
  );
});

test('I4: a record outside the trace, a missing attempt number, a copy without a record, a span without a record', () => {
  const snapshot = healthy();
  snapshot.attempts[0]!.traceId = 'ffffffffffffffffffffffffffffffff';
  snapshot.attempts.push(attempt({ messageId: M1, domain: 'other.test', attempt: 2, recipients: [] }));
  snapshot.received.push(copy(M2, ['eve@dest.test']));
  snapshot.meta.set(M2, { sender: 'alice@origin.test', recipients: ['eve@dest.test'] });
  snapshot.spans!.push({
    name: 'delivery.attempt',
    traceId: TRACE,
    attributes: { 'outpost.message.id': M2, 'outpost.domain': 'dest.test', 'outpost.attempt': 1 },
  });
  const report = checkInvariants(snapshot, { spansComplete: true });
  assert.deepEqual(
    report.violations.map((v) => [v.invariant, v.message]),
    [
      [
        'I4',
        `${M1} dest.test attempt 1: record in trace ffffffffffffffffffffffffffffffff, the message's is ${TRACE}`,
      ],
      ['I4', `${M1} other.test: no record of attempt(s) 1`],
      ['I4', `${M2} <eve@dest.test>: 1 copies at the receivers, 0 attempt record(s) saying so`],
      ['I4', `${M1} dest.test 1: span in trace ${TRACE}, the record's is ffffffffffffffffffffffffffffffff`],
      ['I4', `${M1} other.test 2: attempt record without a delivery.attempt span`],
      ['I4', `${M2} dest.test 1: delivery.attempt span without an attempt record`],
    ],
  );
});

test('I4: copies by attempts a killed worker cut off are allowed up to the number cut off', () => {
  const snapshot = healthy();
  snapshot.received.push(copy(M1, ['bob@dest.test']));
  const allowances = {
    duplicates: { window: 'kill after 250', faults: 1, uncounted: 'the worker died' },
    unrecordedAttempts: 1,
  };
  const report = checkInvariants(snapshot, allowances);
  assert.deepEqual(report.violations, [], formatViolations(report));
  assert.deepEqual(report.explained, [
    `${M1} <bob@dest.test>: duplicate, the worker died`,
    '1 transaction(s) made by attempts cut off by a killed worker (no record)',
  ]);
  snapshot.received.push(copy(M1, ['bob@dest.test']));
  assert.ok(
    checkInvariants(snapshot, allowances).violations.some((v) =>
      v.message.startsWith('2 transaction(s) made by attempts without a record'),
    ),
  );
});

test('I5: a job left active, and a failed job whose recipients have no final state', () => {
  const snapshot = healthy();
  snapshot.jobs.push(
    { queue: 'delivery', id: `${M1}.d1`, state: 'active', messageId: M1, recipients: ['bob@dest.test'] },
    {
      queue: 'delivery',
      id: `${M1}.d2`,
      state: 'failed',
      failedReason: 'job stalled more than allowable limit',
      messageId: M1,
      recipients: ['carol@dest.test'],
    },
    // Failed, but its recipient is final: an operator's business, not lost mail.
    { queue: 'delivery', id: `${M1}.d3`, state: 'failed', messageId: M1, recipients: ['bob@dest.test'] },
  );
  assert.deepEqual(
    checkInvariants(snapshot).violations.map((v) => [v.invariant, v.message]),
    [
      ['I5', `delivery job ${M1}.d1 left active`],
      [
        'I5',
        `delivery job ${M1}.d2 failed (job stalled more than allowable limit) without a final record for carol@dest.test`,
      ],
    ],
  );
});

test('I6: a body left after its message finished; a body whose message still waits is fine', () => {
  const snapshot = healthy();
  snapshot.jobs.push({ queue: 'delivery', id: `${M1}.d1`, state: 'delayed', messageId: M1, recipients: [] });
  snapshot.bodies.push(M1);
  // (The waiting job is I1's business; here only I6 is judged.)
  const bodyViolations = () =>
    checkInvariants(snapshot)
      .violations.filter((v) => v.invariant === 'I6')
      .map((v) => [v.invariant, v.message]);
  assert.deepEqual(bodyViolations(), []);
  snapshot.jobs.pop();
  assert.deepEqual(bodyViolations(), [['I6', `${M1}: body left after its message finished`]]);
  assert.deepEqual(checkInvariants(snapshot).violations.length, 1, 'and nothing else');
});
