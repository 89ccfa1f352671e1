/**
 * The comparison's figures: rows of (workload, measure, system) with median/min/max over the runs,
 * Outpost / Postfix and Outpost / ceiling ratios, the issue's targets with met/missed, and the text
 * table and bench/RESULTS.md that show them. Pure: no I/O.
 */
import type { LoadAverage } from './loadavg.ts';
import type { MachineInfo } from './machine.ts';
import { spread } from './stats.ts';
import { type Column, markdownTable, textTable } from './tables.ts';

export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface Row {
  workload: string;
  measure: string;
  unit: 'msg/s' | 'ms' | 'B' | 's' | 'MiB' | 'jobs';
  outpost?: Figure;
  postfix?: Figure;
  /** smtp-source -> smtp-sink with connection reuse, for msg/s rows. */
  ceiling?: number;
  /**
   * Outpost / Postfix within each round (the two ran one after the other, so they met a similar
   * machine): on a machine whose load drifts, steadier than the ratio of the medians.
   */
  pairedRatio?: Figure;
  /**
   * The deferred workload's other 90%: Outpost's rate in each round over its fault-free rate in the
   * same round (shown beside the verdict, which stays on the medians).
   */
  perRoundShare?: Figure;
}

export interface Target {
  target: string;
  value: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

export interface Versions {
  node: string;
  redis: string;
  bullmq: string;
  postfix?: string;
  dnsmasq?: string;
}

export interface WorkloadReport {
  benchmark: 'compare';
  workload: string;
  date: string;
  command: string;
  machine: MachineInfo;
  versions: Versions;
  /** The load average when the workload started and ended, and whether it started on a busy machine. */
  loadavg: { start: LoadAverage; end: LoadAverage; waitedMs: number; busyAtStart: boolean };
  settings: Record<string, unknown>;
  rows: Row[];
  runs: unknown[];
}

export function figureOf(values: number[]): Figure | undefined {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return undefined;
  return { ...spread(finite), runs: finite.length };
}

export function ratio(a: Figure | undefined, b: Figure | number | undefined): number | undefined {
  const denominator = typeof b === 'number' ? b : b?.median;
  if (!a || denominator === undefined || !(denominator > 0)) return undefined;
  return a.median / denominator;
}

const integer = (value: number) => Math.round(value).toLocaleString('en-US');

export function formatValue(value: number, unit: Row['unit']): string {
  if (!Number.isFinite(value)) return '-';
  if (unit === 'ms') return value < 100 ? value.toFixed(1) : integer(value);
  if (unit === 's') return value.toFixed(1);
  return integer(value);
}

export function formatFigure(figure: Figure | undefined, unit: Row['unit']): string {
  if (!figure) return '-';
  const [median, min, max] = [figure.median, figure.min, figure.max].map((v) => formatValue(v, unit));
  return figure.runs > 1 ? `${median} [${min}-${max}]` : median!;
}

const times = (value: number | undefined) => (value === undefined ? '-' : `${value.toFixed(2)}x`);

export const ROW_COLUMNS: Column<Row>[] = [
  { title: 'workload', value: (row) => row.workload },
  { title: 'measure', value: (row) => `${row.measure} (${row.unit})` },
  { title: 'Outpost median [min-max]', value: (row) => formatFigure(row.outpost, row.unit), right: true },
  { title: 'Postfix median [min-max]', value: (row) => formatFigure(row.postfix, row.unit), right: true },
  {
    title: 'Outpost/Postfix',
    value: (row) => times(row.unit === 'msg/s' ? ratio(row.outpost, row.postfix) : undefined),
    right: true,
  },
  {
    title: 'per-round ratio [min-max]',
    value: (row) =>
      row.pairedRatio && row.unit === 'msg/s'
        ? `${row.pairedRatio.median.toFixed(2)}x [${row.pairedRatio.min.toFixed(2)}-${row.pairedRatio.max.toFixed(2)}]`
        : '-',
    right: true,
  },
  { title: 'ceiling', value: (row) => (row.ceiling ? integer(row.ceiling) : '-'), right: true },
  {
    title: 'Outpost/ceiling',
    value: (row) => times(row.unit === 'msg/s' ? ratio(row.outpost, row.ceiling) : undefined),
    right: true,
  },
];

export const TARGET_COLUMNS: Column<Target>[] = [
  { title: 'target (issue 9)', value: (target) => target.target },
  { title: 'measured', value: (target) => target.value },
  {
    title: 'verdict',
    value: (target) => (target.met === undefined ? 'not measured' : target.met ? 'met' : 'MISSED'),
  },
];

const percent = (share: number) => `${(share * 100).toFixed(0)}%`;

function find(rows: Row[], workload: string, measure: string): Row | undefined {
  return rows.find((row) => row.workload === workload && row.measure === measure);
}

/** The delivery benchmark's slow scenario at one sessions-per-worker setting: 1 and 4 workers. */
export interface Scaling {
  sessionsPerWorker: number;
  /** Messages per run (the slow scenario's --slow-messages): a short run is mostly ramp-up. */
  messages: number;
  /** Messages per worker delivered before the clock started; 0: the workers started cold. */
  warmUpPerWorker: number;
  one: number;
  four: number;
  ratio: number;
}

/** The issue's targets, judged from the rows (and the delivery benchmark's scaling, when given). */
export function judgeTargets(rows: Row[], extra: { scaling?: readonly Scaling[] } = {}): Target[] {
  const targets: Target[] = [];
  const versus = (workload: string, measure: string, factor: number, label: string) => {
    const row = find(rows, workload, measure);
    const value = ratio(row?.outpost, row?.postfix);
    targets.push({
      target: `${label} >= ${factor}x Postfix (same run)`,
      value:
        value === undefined
          ? '-'
          : `${value.toFixed(2)}x (${formatFigure(row!.outpost, 'msg/s')} vs ${formatFigure(row!.postfix, 'msg/s')} msg/s)` +
            (row!.pairedRatio
              ? `; per round ${row!.pairedRatio.median.toFixed(2)}x [${row!.pairedRatio.min.toFixed(2)}-${row!.pairedRatio.max.toFixed(2)}]`
              : ''),
      met: value === undefined ? undefined : value >= factor,
    });
  };
  versus('end to end 2 KB', 'end to end', 3, 'end to end');
  versus('ingest / delivery only', 'ingest only', 4, 'ingest only');
  versus('ingest / delivery only', 'delivery only', 5, 'delivery only (pre-filled queue)');
  const latency = find(rows, 'latency at 100 msg/s', 'p99 enqueue to delivered');
  targets.push({
    target: 'at 100 msg/s offered, p99 enqueue-to-delivered <= 50 ms',
    value: latency?.outpost ? `${formatFigure(latency.outpost, 'ms')} ms` : '-',
    met: latency?.outpost ? latency.outpost.median <= 50 : undefined,
  });
  const good = find(rows, '10% of RCPTs deferred', 'the other 90%');
  const clean = find(rows, 'end to end 2 KB', 'end to end');
  const share = ratio(good?.outpost, clean?.outpost);
  targets.push({
    target: 'with 10% of RCPTs deferred, the other 90% flow at >= 90% of the fault-free rate',
    value:
      share === undefined
        ? '-'
        : `${(share * 100).toFixed(0)}% (${formatFigure(good!.outpost, 'msg/s')} vs ${formatFigure(clean!.outpost, 'msg/s')} msg/s)` +
          (good!.perRoundShare
            ? `; per round ${percent(good!.perRoundShare.median)} [${percent(good!.perRoundShare.min)}-${percent(good!.perRoundShare.max)}]`
            : ''),
    met: share === undefined ? undefined : share >= 0.9,
  });
  // Every measured sessions-per-worker setting is shown, and all of them must meet the target:
  // picking the setting that happens to pass would hide the one that does not.
  const scaling = [...(extra.scaling ?? [])].sort(
    (a, b) =>
      a.sessionsPerWorker - b.sessionsPerWorker ||
      a.messages - b.messages ||
      a.warmUpPerWorker - b.warmUpPerWorker,
  );
  targets.push({
    target: '4 delivery processes >= 3.5x one (latency-bound workload)',
    value:
      scaling.length === 0
        ? '- (npm run bench -- delivery)'
        : `${scaling
            .map(
              (entry) =>
                `${entry.ratio.toFixed(2)}x with ${entry.sessionsPerWorker} sessions per worker, ${integer(entry.messages)} messages, ${entry.warmUpPerWorker > 0 ? `after ${entry.warmUpPerWorker} warm-up messages per worker` : 'cold'} (${formatValue(entry.one, 'msg/s')} -> ${formatValue(entry.four, 'msg/s')} msg/s)`,
            )
            .join('; ')} (delivery benchmark)`,
    met: scaling.length === 0 ? undefined : scaling.every((entry) => entry.ratio >= 3.5),
  });
  const memory = find(rows, 'backlog', 'Redis memory per queued message beyond the body');
  targets.push({
    target: 'Redis memory per queued message <= 3 KB beyond the stored body',
    value: memory?.outpost ? `${formatFigure(memory.outpost, 'B')} B` : '-',
    met: memory?.outpost ? memory.outpost.median <= 3 * 1024 : undefined,
  });
  const rss = rows.filter((row) => row.measure.startsWith('peak RSS') && row.outpost);
  const largest = rss.reduce<Row | undefined>(
    (top, row) => (!top || row.outpost!.max > top.outpost!.max ? row : top),
    undefined,
  );
  targets.push({
    target: "each process's RSS <= 200 MB",
    value: largest
      ? `largest ${formatValue(largest.outpost!.max, 'MiB')} MiB (${largest.measure}, ${largest.workload})`
      : '-',
    met: largest ? largest.outpost!.max <= 200 : undefined,
  });
  return targets;
}

export function comparisonTable(rows: Row[]): string {
  return textTable(rows, ROW_COLUMNS);
}

export function targetsTable(targets: Target[]): string {
  return textTable(targets, TARGET_COLUMNS);
}

/** bench/RESULTS.md: the latest report of every workload, the targets, the machine and commands. */
export function resultsMarkdown(
  reports: WorkloadReport[],
  targets: Target[],
  notes: string[],
  findings = '',
): string {
  const first = reports[0];
  const rows = reports.flatMap((report) => report.rows);
  const machine = first?.machine;
  const versions = first?.versions;
  const busy = reports.filter((report) => report.loadavg.busyAtStart);
  return [
    '# Outpost performance: measured against Postfix on the same machine',
    '',
    'Produced by `npm run bench -- compare` (see [README.md](README.md) for what each workload does). ' +
      'Everything runs on loopback: a fresh redis-server (AOF, `appendfsync always`: Outpost answers 250 ' +
      'only once the message is fsynced), dnsmasq serving 50 test domains (MX -> 10 hosts on 127.0.0.2-11), ' +
      "Postfix's `smtp-sink` on port 25 of each MX address, Outpost's ingest and delivery workers as " +
      'separate processes, and a private Postfix instance (`postfix -c DIR`, in its own mount namespace) ' +
      'as a relay. The same injector (`smtp-source`, 50 processes, one session each, connection reused) ' +
      'feeds both. Medians of the runs, [min-max]; the raw ceiling rows (smtp-source -> smtp-sink, ' +
      "Postfix's own test tools) show their rate in the Postfix column. The per-round ratio pairs the two " +
      "systems' runs of the same round (they ran one after the other, on a similar machine).",
    '',
    markdownTable(rows, ROW_COLUMNS),
    '',
    '## Targets',
    '',
    markdownTable(targets, TARGET_COLUMNS),
    '',
    ...(notes.length > 0 ? ['## Notes', '', ...notes.map((note) => `- ${note}`), ''] : []),
    ...(findings.trim() ? [findings.trim(), ''] : []),
    '## Machine and versions',
    '',
    machine ? `- ${machineLine(machine)}` : '- (no run yet)',
    versions
      ? `- Node ${versions.node}, Redis ${versions.redis}, BullMQ ${versions.bullmq}` +
        `${versions.postfix ? `, Postfix ${versions.postfix}` : ''}${versions.dnsmasq ? `, dnsmasq ${versions.dnsmasq}` : ''}`
      : '',
    machine ? `- Commit ${machine.gitCommit}` : '',
    ...otherMachines(reports),
    `- The machine is shared: ${
      busy.length > 0
        ? `these workloads started with the 1-minute load average above 1.5 (after waiting up to 10 minutes): ${busy
            .map((report) => `${report.workload} (${report.loadavg.start.one.toFixed(2)})`)
            .join(', ')}`
        : 'every workload started with the 1-minute load average at or below 1.5'
    }. Each run records /proc/loadavg at its start and end in the JSON.`,
    '',
    '## Commands and files',
    '',
    ...reports.map(
      (report) =>
        `- ${report.workload}: \`${report.command}\`, ${report.date}, \`results/${resultFileName(report.date, report.workload)}\``,
    ),
    '',
  ].join('\n');
}

const machineLine = (machine: MachineInfo) =>
  `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}`;

/**
 * The workloads whose latest report ran on another machine or commit than the first: RESULTS.md
 * keeps each workload's latest run, and a machine's speed moves every figure.
 */
export function otherMachines(reports: WorkloadReport[]): string[] {
  const first = reports[0]?.machine;
  if (!first) return [];
  return reports
    .filter(
      (report) =>
        machineLine(report.machine) !== machineLine(first) || report.machine.gitCommit !== first.gitCommit,
    )
    .map((report) =>
      machineLine(report.machine) === machineLine(first)
        ? `- ${report.workload} ran at commit ${report.machine.gitCommit}, ${report.date.slice(0, 10)}`
        : `- ${report.workload} ran on another machine (${machineLine(report.machine)}), commit ` +
          `${report.machine.gitCommit}, ${report.date.slice(0, 10)}: compare its rows with the others' with care`,
    );
}

/** results/<date>-<workload>.json */
export function resultFileName(isoDate: string, workload: string): string {
  return `${isoDate.slice(0, 16).replace(':', '-')}-${workload.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.json`;
}

/** What a reader must know about the runs: sizes that differ from the issue's, a busy machine. */
export function reportNotes(reports: WorkloadReport[]): string[] {
  const notes: string[] = [];
  const issueSizes: Record<string, number> = {
    e2e: 20_000,
    'e2e-100k': 2_000,
    backlog: 200_000,
    ceiling: 20_000,
  };
  for (const report of reports) {
    const messages = report.settings.messages as number | undefined;
    const wanted = issueSizes[report.workload];
    if (wanted !== undefined && messages !== undefined && messages !== wanted) {
      notes.push(
        `${report.workload}: ${messages.toLocaleString('en-US')} messages per run (the issue's workload is ${wanted.toLocaleString('en-US')}).`,
      );
    }
    const runs = new Set((report.runs as Array<{ run?: number }>).map((run) => run.run)).size;
    if (runs < 3) notes.push(`${report.workload}: ${runs} run(s), not 3.`);
    if (report.loadavg.busyAtStart) {
      notes.push(
        `${report.workload}: the machine was busy (load average ${report.loadavg.start.one.toFixed(2)} at the start, ` +
          `${report.loadavg.end.one.toFixed(2)} at the end, after waiting ${(report.loadavg.waitedMs / 60_000).toFixed(1)} min): ` +
          'other processes took CPU from both systems; compare the ratios, not the absolute rates, with a quiet run.',
      );
    }
  }
  return notes;
}
