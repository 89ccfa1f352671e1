import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  comparisonTable,
  figureOf,
  formatFigure,
  judgeTargets,
  type Row,
  ratio,
  reportNotes,
  resultFileName,
  resultsMarkdown,
  type WorkloadReport,
} from '../src/compare-report.ts';
import { parseLoadAverage } from '../src/loadavg.ts';
import { summarizeMaillog } from '../src/peers/maillog.ts';
import { postfixMainCf } from '../src/peers/postfix-config.ts';
import { SinkCounter } from '../src/peers/sink-counter.ts';
import { smtpSourceArgs } from '../src/peers/smtp-source.ts';
import {
  DOMAIN_COUNT,
  dnsmasqConfig,
  domainName,
  MX_COUNT,
  messagesForMx,
  mxAddress,
  mxNumber,
  perDomain,
} from '../src/peers/zone.ts';
import { worldMessage, worldRecipient } from '../src/world-load.ts';

test('smtp-sink -c output: the last mesg= counts, across chunk boundaries', () => {
  const counter = new SinkCounter();
  assert.equal(counter.feed('sess=0 quit=0 mesg=1\rsess=0 quit=0 me'), 1);
  assert.equal(counter.feed('sg=2\rsess=1 quit=1 mesg=2\r'), 2);
  assert.equal(counter.sessions, 1);
  assert.equal(counter.feed('sess=1 quit=1 mesg=17'), 2, 'an unfinished status line is not read yet');
  assert.equal(counter.feed('\r'), 17);
});

test('maillog: sent, deferred and the delay= of each delivery', () => {
  const log = [
    'Nov 27 21:16:53 relay postfix/smtp[1]: 4AB: to=<1user@d1.bench.test>, relay=mx1.bench.test[127.0.0.2]:25, delay=0.12, delays=0.01/0/0.1/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1)',
    'Nov 27 21:16:53 relay postfix/smtp[1]: 4AC: to=<2user@d10.bench.test>, relay=mx10.bench.test[127.0.0.11]:25, delay=0.2, delays=0.1/0/0.1/0, dsn=4.3.0, status=deferred (host said: 450 4.3.0 Error: command failed)',
    'Nov 27 21:16:54 relay postfix/smtp[1]: 4AD: to=<3user@d2.bench.test>, relay=mx2.bench.test[127.0.0.3]:25, delay=1.5, delays=1/0/0.4/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)',
    'Nov 27 21:16:54 relay postfix/qmgr[1]: 4AD: removed',
  ].join('\n');
  const summary = summarizeMaillog(log);
  assert.equal(summary.sent, 2);
  assert.equal(summary.deferred, 1);
  assert.equal(summary.bounced, 0);
  assert.equal(summary.delayMs.p50, 120);
  assert.equal(summary.delayMs.max, 1_500);
});

test('the zone: 50 domains over 10 MX hosts on 127.0.0.2-11, mx10 takes 10% of the messages', () => {
  assert.equal(domainName(1), 'd1.bench.test');
  assert.equal(mxNumber(1), 1);
  assert.equal(mxNumber(10), 10);
  assert.equal(mxNumber(11), 1);
  assert.equal(mxAddress(1), '127.0.0.2');
  assert.equal(mxAddress(MX_COUNT), '127.0.0.11');
  assert.equal(
    perDomain(20_000).reduce((a, b) => a + b, 0),
    20_000,
  );
  assert.equal(
    perDomain(20_003).reduce((a, b) => a + b, 0),
    20_003,
  );
  assert.equal(messagesForMx(20_000, MX_COUNT), 2_000);
  const config = dnsmasqConfig('127.0.0.53');
  assert.equal(config.match(/^mx-host=/gm)?.length, DOMAIN_COUNT);
  assert.match(config, /^listen-address=127\.0\.0\.53$/m);
  assert.match(config, /^no-resolv$/m, 'no upstream: nothing leaves the machine');
  assert.match(config, /^mx-host=d10\.bench\.test,mx10\.bench\.test,10$/m);
});

test('the project injector labels every message and sends it to its domain', () => {
  const text = worldMessage(12_345, 2_048);
  assert.equal(Buffer.byteLength(text, 'latin1'), 2_048);
  assert.match(text, /\r\nX-Bench-Seq: 12345\r\n/);
  assert.equal(worldRecipient(0), 'user0@d1.bench.test');
  assert.equal(worldRecipient(49), 'user49@d50.bench.test');
  assert.equal(worldRecipient(50), 'user50@d1.bench.test');
});

test('smtp-source arguments: connection reuse, distinct recipients, the target last', () => {
  const args = smtpSourceArgs({
    size: 2_048,
    messages: 400,
    recipient: 'user@d1.bench.test',
    target: '127.0.0.1:2526',
  });
  assert.deepEqual(args.slice(0, 7), ['-d', '-s', '1', '-l', '2048', '-m', '400']);
  assert.ok(args.includes('-N'));
  assert.equal(args.at(-1), '127.0.0.1:2526');
  assert.ok(
    !smtpSourceArgs({ size: 1, messages: 1, recipient: 'a@b', target: 'x:1', reuse: false }).includes('-d'),
  );
});

test('main.cf of the reference relay: own queue, loopback only, hold and retry settings', () => {
  const plain = postfixMainCf({ dir: '/tmp/x/pf', scratch: '/tmp/x' });
  assert.match(plain, /^queue_directory = \/tmp\/x\/pf\/spool$/m);
  assert.match(plain, /^inet_interfaces = 127\.0\.0\.1$/m);
  assert.match(plain, /^minimal_backoff_time = 300s$/m);
  assert.doesNotMatch(plain, /HOLD/);
  const held = postfixMainCf({ dir: '/d', scratch: '/', holdEverything: true, backoffMin: '10s' });
  assert.match(held, /^smtpd_data_restrictions = check_client_access static:HOLD$/m);
  assert.match(held, /^minimal_backoff_time = 10s$/m);
});

test('load average parsing', () => {
  const load = parseLoadAverage('1.83 0.97 0.39 1/148 11301\n', new Date(0));
  assert.deepEqual(load, { one: 1.83, five: 0.97, fifteen: 0.39, at: '1970-01-01T00:00:00.000Z' });
});

const figure = (median: number, min = median, max = median) => ({ median, min, max, runs: 3 });

const ROWS: Row[] = [
  {
    workload: 'end to end 2 KB',
    measure: 'end to end',
    unit: 'msg/s',
    outpost: figure(800, 700, 900),
    postfix: figure(200),
    ceiling: 12_000,
  },
  {
    workload: 'ingest / delivery only',
    measure: 'ingest only',
    unit: 'msg/s',
    outpost: figure(1_500),
    postfix: figure(500),
    pairedRatio: { median: 2.5, min: 1.2, max: 3.1, runs: 3 },
  },
  {
    workload: 'ingest / delivery only',
    measure: 'delivery only',
    unit: 'msg/s',
    outpost: figure(2_000),
    postfix: figure(400),
  },
  {
    workload: '10% of RCPTs deferred',
    measure: 'the other 90%',
    unit: 'msg/s',
    outpost: figure(760),
    perRoundShare: { median: 0.93, min: 0.8, max: 0.97, runs: 3 },
  },
  {
    workload: 'latency at 100 msg/s',
    measure: 'p99 enqueue to delivered',
    unit: 'ms',
    outpost: figure(42.5),
  },
  {
    workload: 'backlog',
    measure: 'Redis memory per queued message beyond the body',
    unit: 'B',
    outpost: figure(4_000),
  },
  { workload: 'end to end 2 KB', measure: 'peak RSS, ingest', unit: 'MiB', outpost: figure(150, 140, 210) },
];

test('medians with min and max; ratios only where both sides exist', () => {
  assert.deepEqual(figureOf([3, 1, 2, Number.NaN]), { median: 2, min: 1, max: 3, runs: 3 });
  assert.equal(figureOf([Number.NaN]), undefined);
  assert.equal(ratio(figure(800), figure(200)), 4);
  assert.equal(ratio(figure(800), 0), undefined);
  assert.equal(ratio(undefined, figure(1)), undefined);
  assert.equal(formatFigure(figure(1_234.4, 1_000, 1_500.6), 'msg/s'), '1,234 [1,000-1,501]');
});

test('targets: met, missed and not measured', () => {
  const targets = judgeTargets(ROWS, {
    scaling: [
      { sessionsPerWorker: 50, messages: 5_000, warmUpPerWorker: 0, one: 250, four: 600, ratio: 2.4 },
      { sessionsPerWorker: 10, messages: 2_000, warmUpPerWorker: 500, one: 52, four: 198, ratio: 3.81 },
      { sessionsPerWorker: 10, messages: 2_000, warmUpPerWorker: 0, one: 50, four: 190, ratio: 3.8 },
    ],
  });
  const verdict = (start: string) => targets.find((target) => target.target.startsWith(start))?.met;
  assert.equal(verdict('end to end'), true); // 4x >= 3x
  assert.equal(verdict('ingest only'), false); // 3x < 4x
  assert.match(targets[1]!.value, /per round 2\.50x \[1\.20-3\.10\]/);
  assert.equal(verdict('delivery only'), true); // 5x
  assert.equal(verdict('at 100 msg/s'), true);
  assert.equal(verdict('with 10%'), true); // 760 / 800 = 95%
  assert.match(
    targets.find((target) => target.target.startsWith('with 10%'))!.value,
    /^95% \(760 \[760-760\] vs 800 \[700-900\] msg\/s\); per round 93% \[80%-97%\]$/,
  );
  assert.equal(verdict('4 delivery'), false, 'every setting must meet it, not the best one');
  assert.match(
    targets.find((target) => target.target.startsWith('4 delivery'))!.value,
    /^3\.80x with 10 sessions per worker, 2,000 messages, cold \(50 -> 190 msg\/s\); 3\.81x with 10 sessions per worker, 2,000 messages, after 500 warm-up messages per worker \(52 -> 198 msg\/s\); 2\.40x with 50 sessions per worker, 5,000 messages, cold/,
  );
  const scalingOnly = (ratio: number) =>
    judgeTargets([], {
      scaling: [
        { sessionsPerWorker: 10, messages: 2_000, warmUpPerWorker: 0, one: 50, four: 50 * ratio, ratio },
      ],
    }).find((target) => target.target.startsWith('4 delivery'))?.met;
  assert.equal(scalingOnly(3.6), true);
  assert.equal(scalingOnly(3.4), false);
  assert.equal(verdict('Redis memory'), false);
  assert.equal(verdict("each process's RSS"), false, 'judged on the largest run, not the median');
  assert.equal(judgeTargets([])[0]!.met, undefined);
});

test('the table and RESULTS.md show every row, the ratios and the machine', () => {
  const table = comparisonTable(ROWS);
  assert.match(
    table,
    /ingest only \(msg\/s\)\s+1,500 \[1,500-1,500\]\s+500 \[500-500\]\s+3\.00x\s+2\.50x \[1\.20-3\.10\]/,
  );
  assert.match(
    table,
    /end to end \(msg\/s\)\s+800 \[700-900\]\s+200 \[200-200\]\s+4\.00x\s+-\s+12,000\s+0\.07x/,
  );
  const report: WorkloadReport = {
    benchmark: 'compare',
    workload: 'e2e',
    date: '2026-11-27T21:30:00.000Z',
    command: 'npm run bench -- compare --workloads e2e',
    machine: {
      cpuModel: 'Test CPU',
      cores: 2,
      memoryGiB: 24,
      kernel: '6.1',
      node: 'v24.0.0',
      redis: '7.0.15',
      bullmq: '5',
      smtpServer: '3',
      redisDir: '/tmp',
      gitCommit: 'abc',
      uncommittedPaths: [],
    },
    versions: { node: 'v24.0.0', redis: '7.0.15', bullmq: '5', postfix: '3.7.11' },
    loadavg: {
      start: parseLoadAverage('3.2 1 1'),
      end: parseLoadAverage('2 1 1'),
      waitedMs: 600_000,
      busyAtStart: true,
    },
    settings: { messages: 5_000 },
    rows: ROWS,
    runs: [{ run: 1 }, { run: 2 }, { run: 3 }],
  };
  const notes = reportNotes([report]);
  assert.equal(notes.length, 2);
  assert.match(notes[0]!, /5,000 messages per run \(the issue's workload is 20,000\)/);
  assert.match(notes[1]!, /busy \(load average 3\.20/);
  const markdown = resultsMarkdown([report], judgeTargets(ROWS), notes, '## Findings\n\ntext');
  assert.match(
    markdown,
    /\| end to end 2 KB \| end to end \(msg\/s\) \| 800 \[700-900\] \| 200 \[200-200\] \| 4\.00x \|/,
  );
  assert.match(markdown, /2 cores, 24 GiB RAM/);
  assert.match(markdown, /Postfix 3\.7\.11/);
  assert.match(markdown, /npm run bench -- compare --workloads e2e/);
  assert.match(markdown, /## Findings/);
  assert.equal(resultFileName(report.date, 'e2e-100k'), '2026-11-27T21-30-e2e-100k.json');
  assert.doesNotMatch(markdown, /^- \S+ ran (on|at) /m);

  // A workload run later on another machine says so under the machine.
  const backlog: WorkloadReport = {
    ...report,
    workload: 'backlog',
    date: '2026-11-28T19:16:00.000Z',
    machine: { ...report.machine, cpuModel: 'Other CPU', gitCommit: 'def' },
  };
  const sameKind: WorkloadReport = {
    ...report,
    workload: 'latency',
    machine: { ...report.machine, gitCommit: 'def' },
  };
  const mixed = resultsMarkdown([report, sameKind, backlog], judgeTargets(ROWS), [], '');
  assert.match(mixed, /- Test CPU, 2 cores, 24 GiB RAM, Linux 6\.1\n/);
  assert.match(mixed, /- latency ran at commit def, 2026-11-27\n/);
  assert.match(
    mixed,
    /- backlog ran on another machine \(Other CPU, 2 cores, 24 GiB RAM, Linux 6\.1\), commit def, 2026-11-28/,
  );
});
