import { createOperatorControls } from '@outpost/delivery';
import { createRedisConnection, waitForRedis } from '@outpost/queue';
import type { Command } from 'commander';
import type { Redis } from 'ioredis';

/** Runs `work` with a Redis connection to REDIS_URL, closed afterwards. */
export async function withRedis<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = createRedisConnection(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', 'worker');
  redis.on('error', () => {});
  try {
    await waitForRedis(redis, 5_000);
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

/** Operator verbs need only Redis: they work wherever REDIS_URL reaches, without service settings. */
async function withControls<T>(
  run: (controls: ReturnType<typeof createOperatorControls>) => Promise<T>,
): Promise<T> {
  return withRedis(async (redis) => {
    const controls = createOperatorControls(redis);
    try {
      return await run(controls);
    } finally {
      await controls.close();
    }
  });
}

const time = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

export function addOperatorCommands(program: Command): void {
  program
    .command('destinations')
    .description('per-destination connection windows, connections in flight, pauses and last errors')
    .option('--json', 'one JSON object per line')
    .action((options: { json?: boolean }) =>
      withControls(async (controls) => {
        const states = await controls.destinations();
        if (options.json) {
          for (const state of states) process.stdout.write(`${JSON.stringify(state)}\n`);
          return;
        }
        process.stdout.write('DESTINATION\tWINDOW\tIN FLIGHT\tPAUSED UNTIL\tLAST ERROR\n');
        for (const state of states) {
          process.stdout.write(
            `${state.destination}\t${state.window}\t${state.inFlight}\t${time(state.pausedUntil)}${state.pauseCause ? ` (${state.pauseCause})` : ''}\t${state.lastError ?? '-'}\n`,
          );
        }
      }),
    );

  const destination = program
    .command('destination')
    .description('hold, release or retry now the mail for a domain');
  destination
    .command('pause <domain>')
    .description('hold mail for the domain (recipients show as held) until resumed')
    .action((domain: string) =>
      withControls((controls) => controls.pauseDomain(domain)).then(() => console.log(`${domain}: paused`)),
    );
  destination
    .command('resume <domain>')
    .description('release a hold on the domain and any automatic pause of its destination')
    .action((domain: string) =>
      withControls((controls) => controls.resumeDomain(domain)).then(() => console.log(`${domain}: resumed`)),
    );
  destination
    .command('flush <domain>')
    .description('resume the domain and retry its waiting mail now')
    .action((domain: string) =>
      withControls((controls) => controls.flushDomain(domain)).then((count) =>
        console.log(`${domain}: ${count} job(s) retried now`),
      ),
    );
}

/** `outpost delivery pause|resume|status`: the cluster-wide switch the FAQ calls "delivery is switched off". */
export async function deliveryControl(action: string): Promise<void> {
  await withControls(async (controls) => {
    if (action === 'pause') await controls.pauseDelivery();
    else if (action === 'resume') await controls.resumeDelivery();
    else if (action !== 'status') throw new Error(`unknown action "${action}": use pause, resume or status`);
    const status = await controls.status();
    console.log(`delivery: ${status.paused ? 'PAUSED by an operator (switched off)' : 'running'}`);
    console.log(
      Object.entries(status.counts)
        .map(([state, count]) => `${state}: ${count}`)
        .join(', '),
    );
  });
}
