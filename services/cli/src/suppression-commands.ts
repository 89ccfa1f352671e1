import { parseDuration } from '@outpost/config';
import { addSuppression, listSuppressions, removeSuppression, type SuppressionEntry } from '@outpost/queue';
import type { Command } from 'commander';
import { withRedis } from './operator-commands.ts';

/** `outpost suppression list|add|remove`: the addresses mail is not attempted to. */
export function addSuppressionCommands(program: Command): void {
  const suppression = program
    .command('suppression')
    .description('show, add or remove suppressed addresses (mail to them bounces without an attempt)');
  suppression
    .command('list')
    .option('--json', 'one JSON object per line')
    .action((options: { json?: boolean }) =>
      withRedis(async (redis) => {
        const entries = await listSuppressions(redis);
        if (options.json) for (const entry of entries) process.stdout.write(`${JSON.stringify(entry)}\n`);
        else process.stdout.write(`${formatSuppressions(entries)}\n`);
      }),
    );
  suppression
    .command('add <address>')
    .option('--for <duration>', 'how long, e.g. 30d', '30d')
    .option('--note <text>', 'why, shown in the DSNs of later mail to it')
    .action((address: string, options: { for: string; note?: string }) =>
      withRedis(async (redis) => {
        const durationMs = parseDuration(options.for);
        if (durationMs === undefined) throw new Error(`--for: "${options.for}" is not a duration`);
        const entry = await addSuppression(redis, {
          address,
          durationMs,
          ...(options.note !== undefined && { note: options.note }),
        });
        console.log(`${entry.address}: suppressed until ${new Date(entry.until).toISOString()}`);
      }),
    );
  suppression.command('remove <address>').action((address: string) =>
    withRedis(async (redis) => {
      console.log(
        `${address}: ${(await removeSuppression(redis, address)) ? 'removed' : 'was not on the list'}`,
      );
    }),
  );
}

/** One line per entry, tab-separated under a header, for `outpost suppression list`. */
export function formatSuppressions(entries: readonly SuppressionEntry[]): string {
  const rows = entries.map((entry) =>
    [
      entry.address,
      entry.category,
      entry.enhancedStatus,
      entry.source,
      new Date(entry.until).toISOString(),
      (entry.diagnostic ?? '-').replace(/\s+/g, ' '),
    ].join('\t'),
  );
  return `${['ADDRESS\tCATEGORY\tSTATUS\tSOURCE\tUNTIL\tREASON', ...rows].join('\n')}\n`;
}
