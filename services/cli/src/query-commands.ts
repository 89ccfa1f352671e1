import { userInfo } from 'node:os';
import { loadTraceQueryConfig, parseDuration } from '@outpost/config';
import {
  type ActionResult,
  diagnoseEntry,
  diagnoseMessageView,
  formatDeliveries,
  formatMessageTimeline,
  formatOverview,
  generateOperatorKey,
  MESSAGE_ACTIONS,
  type MessageAction,
  openQueryContext,
  parseTimeBound,
  type QueryContext,
  startTraceQuery,
} from '@outpost/trace-query';
import type { Command } from 'commander';
import { withRedis } from './operator-commands.ts';
import { runService } from './run-service.ts';

/** Like postqueue, these need only Redis (REDIS_URL), not the services' settings. */
async function withContext<T>(run: (context: QueryContext) => Promise<T>): Promise<T> {
  const env = process.env;
  return withRedis(async (redis) => {
    const traceUiUrl = env.OUTPOST_TRACE_UI_URL?.replace(/\/+$/, '');
    const context = openQueryContext(redis, {
      ...(traceUiUrl && { traceUiUrl }),
      ...(env.OUTPOST_LOG_RETENTION && { logRetentionMs: parseDuration(env.OUTPOST_LOG_RETENTION) }),
      webhooks: (env.OUTPOST_WEBHOOK_URLS ?? '').trim() !== '',
    });
    try {
      return await run(context);
    } finally {
      await context.close();
    }
  });
}

/** Prints what an action did; a refusal goes to stderr and makes the exit status 1. */
function report(result: ActionResult, subject: string): void {
  if (result.ok) process.stdout.write(`${subject}: ${result.summary}\n`);
  else {
    process.stderr.write(`${subject}: ${result.summary}\n`);
    process.exitCode = 1;
  }
}

/** The OS user by default: who ran the command is who acted. */
function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'operator';
  }
}

const operatorOption = ['--by <name>', 'who is acting, recorded with the action', osUserName()] as const;

function timeBound(text: string): number {
  const time = parseTimeBound(text);
  if (time === undefined)
    throw new Error(`"${text}" is not a time: use 1h, 2d, an ISO 8601 time or epoch ms`);
  return time;
}

/**
 * The operator's questions and actions: `failures`, `message`, `queue`, the `trace-query` service,
 * and `operator-key`. `outpost message <id>` shows a message (the default subcommand `show`), while
 * `outpost message hold <id>` acts on it; message ids are UUIDs, so they never clash with a verb.
 */
export function addQueryCommands(program: Command): void {
  program
    .command('failures')
    .description('recent bounced and expired recipients, newest first, with the reply that decided it')
    .option('--since <time>', 'from this long ago (1h, 2d), or an ISO time', '1h')
    .option('--until <time>', 'up to this time')
    .option('--domain <domain>', 'only this destination domain')
    .option('--category <category>', 'only this failure category, e.g. no_such_user')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'one JSON object per line')
    .action(
      (options: {
        since: string;
        until?: string;
        domain?: string;
        category?: string;
        limit: string;
        json?: boolean;
      }) =>
        withContext(async (context) => {
          const wanted = Math.max(1, Number.parseInt(options.limit, 10) || 100);
          const entries = [];
          let cursor: string | undefined;
          do {
            const page = await context.deliveries({
              status: 'failed',
              since: timeBound(options.since),
              ...(options.until && { until: timeBound(options.until) }),
              ...(options.domain && { domain: options.domain }),
              ...(options.category && { category: options.category }),
              limit: Math.min(wanted - entries.length, 500),
              ...(cursor && { cursor }),
            });
            entries.push(...page.entries);
            cursor = page.cursor;
          } while (cursor && entries.length < wanted);
          if (options.json)
            for (const entry of entries) process.stdout.write(`${JSON.stringify(diagnoseEntry(entry))}\n`);
          else process.stdout.write(formatDeliveries(entries));
        }),
    );

  const message = program
    .command('message')
    .description('show a message, or hold|release|retry|delete|bounce it');
  message
    .command('show <id>', { isDefault: true })
    .description('the message: envelope, recipients, every attempt with its SMTP transcript, actions')
    .option('--json', 'the whole view as JSON')
    .action((id: string, options: { json?: boolean }) =>
      withContext(async (context) => {
        const view = await context.message(id);
        if (!view) {
          process.stderr.write(`no message ${id} in the queue or the delivery log\n`);
          process.exitCode = 1;
        } else
          process.stdout.write(
            options.json
              ? `${JSON.stringify(diagnoseMessageView(view), null, 2)}\n`
              : formatMessageTimeline(view),
          );
      }),
    );
  const descriptions: Record<MessageAction, string> = {
    hold: 'keep the message from being attempted until released (its lifetime clock keeps running)',
    release: 'lift a hold: waiting recipients are attempted now',
    retry: 'attempt the waiting recipients now',
    delete: 'remove the message from the queue without telling the sender',
    bounce: 'return the message: its waiting recipients fail and the sender gets a DSN',
  };
  for (const action of MESSAGE_ACTIONS) {
    message
      .command(`${action} <id>`)
      .description(descriptions[action])
      .option(...operatorOption)
      .action((id: string, options: { by: string }) =>
        withContext(async (context) => report(await context.actions[action](id, options.by), id)),
      );
  }

  const queue = program.command('queue').description("queue counts, or hold|release|retry a domain's mail");
  queue
    .command('status', { isDefault: true })
    .description('jobs by state per queue, the oldest message, holds, and whether delivery is paused')
    .option('--json', 'as JSON')
    .action((options: { json?: boolean }) =>
      withContext(async (context) => {
        const overview = await context.overview();
        process.stdout.write(
          options.json ? `${JSON.stringify(overview, null, 2)}\n` : formatOverview(overview),
        );
      }),
    );
  const domainMethods = { hold: 'holdDomain', release: 'releaseDomain', retry: 'retryDomain' } as const;
  const domainDescriptions = {
    hold: "hold the domain's mail, queued and yet to come, until released",
    release: "lift the domain's hold: its waiting mail is attempted now",
    retry: "attempt the domain's waiting mail now",
  };
  for (const action of ['hold', 'release', 'retry'] as const) {
    queue
      .command(action)
      .description(domainDescriptions[action])
      .requiredOption('--domain <domain>', 'the destination domain')
      .option(...operatorOption)
      .action((options: { domain: string; by: string }) =>
        withContext(async (context) => {
          const domain = options.domain.toLowerCase();
          report(await context.actions[domainMethods[action]](domain, options.by), domain);
        }),
      );
  }

  program
    .command('trace-query')
    .description("the operators' HTTP API: messages, deliveries, queue, destinations, and actions")
    .action(() =>
      runService('trace-query', (config, logger) =>
        startTraceQuery({ config, queryConfig: loadTraceQueryConfig(process.env), logger }),
      ),
    );

  program
    .command('operator-key <name>')
    .description('make a trace-query operator key: prints the key once, and the OUTPOST_OPERATOR_KEYS entry')
    .action((name: string) => {
      const { key, entry } = generateOperatorKey(name);
      process.stderr.write(`key (give it to the operator; it is shown only now): ${key}\n`);
      process.stdout.write(`${entry}\n`);
    });
}
