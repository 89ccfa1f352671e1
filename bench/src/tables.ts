/** Report tables shared by the workloads: one column list renders as text and as Markdown. */
export interface Column<Row> {
  title: string;
  value: (row: Row) => string;
  right?: boolean;
}

export function textTable<Row>(rows: Row[], columns: Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((line) => line[index]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((cell, index) =>
        columns[index]!.right ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!),
      )
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((column) => column.title)),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.map(line),
  ].join('\n');
}

export function markdownTable<Row>(rows: Row[], columns: Column<Row>[]): string {
  return [
    `| ${columns.map((column) => column.title).join(' | ')} |`,
    `|${columns.map((column) => (column.right ? '---:' : ':---')).join('|')}|`,
    ...rows.map((row) => `| ${columns.map((column) => column.value(row)).join(' | ')} |`),
  ].join('\n');
}

/** A warning when the code under test changed between runs (someone edited it mid-benchmark). */
export function sourceWarning(runs: ReadonlyArray<{ sourceFingerprint: string }>): string | undefined {
  const fingerprints = [...new Set(runs.map((run) => run.sourceFingerprint))];
  if (fingerprints.length <= 1) return undefined;
  return (
    `WARNING: the code under test changed during the benchmark (source fingerprints ${fingerprints.join(', ')}): ` +
    'the runs do not all measure the same code.'
  );
}
