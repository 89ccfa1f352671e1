import { startBounce } from '@outpost/bounce';
import {
  type Config,
  loadBounceConfig,
  loadDeliveryConfig,
  loadTraceQueryConfig,
  loadWebhookConfig,
} from '@outpost/config';
import { startDelivery } from '@outpost/delivery';
import { generateApiKey, generateDkimKey, startIngest, writeDkimKey, zoneRecord } from '@outpost/ingest';
import type { Logger, Tracer } from '@outpost/telemetry';
import { startTraceQuery } from '@outpost/trace-query';
import { startWebhookSender } from '@outpost/webhooks';
import { Command } from 'commander';
import { addDoctorCommand } from './doctor/doctor-command.ts';
import { addExplainCommand } from './explain-command.ts';
import { hashPasswordCommand } from './hash-password-command.ts';
import { runIngestCommand } from './ingest-command.ts';
import { addOperatorCommands, deliveryControl } from './operator-commands.ts';
import { addQueryCommands } from './query-commands.ts';
import { runService } from './run-service.ts';
import { addSuppressionCommands } from './suppression-commands.ts';

/** The `outpost` command: starts a service, or runs an operator verb. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('outpost')
    .description('Outpost mail delivery system')
    .showHelpAfterError()
    .enablePositionalOptions();

  program
    .command('ingest')
    .description('accept mail over SMTP submission and queue it durably in Redis')
    .action(runIngestCommand);

  program
    .command('delivery [action]')
    .description(
      'deliver queued mail: MX lookup, SMTP sessions, retries (run any number of these);\n' +
        'with pause|resume|status: switch delivery off or on cluster-wide, or show it',
    )
    .action((action?: string) =>
      action
        ? deliveryControl(action)
        : runService('delivery', (config, logger, tracer) =>
            startDeliveryWithWebhooks(config, logger, tracer),
          ),
    );

  program
    .command('bounce')
    .description('send delivery status notifications (bounces, delay warnings, success reports)')
    .action(() =>
      runService('bounce', (config, logger, tracer) =>
        startBounce({
          config,
          bounce: loadBounceConfig(process.env),
          logger,
          tracer,
          webhooks: webhooksOn(),
        }),
      ),
    );

  addOperatorCommands(program);
  addExplainCommand(program);
  addDoctorCommand(program);
  addQueryCommands(program);
  addSuppressionCommands(program);

  program
    .command('all')
    .description('run every service in one process (development)')
    .action(() =>
      runService('all', async (config, logger, tracer) => {
        const services = [
          await startIngest({ config, logger: logger.child({ service: 'ingest' }), tracer }),
          await startDeliveryWithWebhooks(config, logger.child({ service: 'delivery' }), tracer),
          await startBounce({
            config,
            bounce: loadBounceConfig(process.env),
            logger: logger.child({ service: 'bounce' }),
            tracer,
            webhooks: webhooksOn(),
          }),
          await startTraceQuery({
            config,
            queryConfig: loadTraceQueryConfig(process.env),
            logger: logger.child({ service: 'trace-query' }),
          }),
        ];
        return { stop: async () => void (await Promise.all(services.map((service) => service.stop()))) };
      }),
    );

  program
    .command('api-key <name>')
    .description('make an HTTP API key: prints the key once, and the OUTPOST_API_KEYS entry to configure')
    .requiredOption('--senders <list>', 'comma-separated senders the key may use: address, @domain, <> or *')
    .option('--rate <rate>', 'messages per period, e.g. 100/min (default 600/min), or unlimited')
    .action((name: string, options: { senders: string; rate?: string }) => {
      const { key, entry } = generateApiKey({
        name,
        senders: options.senders
          .split(',')
          .map((sender) => sender.trim())
          .filter(Boolean),
        ...(options.rate !== undefined && { rate: options.rate }),
      });
      process.stderr.write(`key (give it to the application; it is shown only now): ${key}\n`);
      process.stdout.write(`${entry}\n`);
    });

  program
    .command('dkim')
    .description('DKIM signing keys')
    .command('keygen <domain> <selector>')
    .description('make a key pair, store the private key, print the DNS TXT record to publish')
    .option('--type <type>', 'rsa (2048 bits) or ed25519', 'rsa')
    .option(
      '--dir <dir>',
      'keys directory (OUTPOST_DKIM_KEYS_DIR)',
      process.env.OUTPOST_DKIM_KEYS_DIR ?? './dkim',
    )
    .action(async (domain: string, selector: string, options: { type: string; dir: string }) => {
      if (options.type !== 'rsa' && options.type !== 'ed25519')
        throw new Error('--type must be rsa or ed25519');
      const key = generateDkimKey(domain, selector, options.type);
      const path = await writeDkimKey(options.dir, key);
      process.stderr.write(
        `private key written to ${path}; publish this record, then set OUTPOST_DKIM_KEYS_DIR:\n`,
      );
      process.stdout.write(`${zoneRecord(key)}\n`);
    });

  program
    .command('hash-password')
    .description('print a password hash for OUTPOST_USERS_FILE (reads the password from stdin)')
    .action(hashPasswordCommand);

  await program.parseAsync(argv);
}

/**
 * A delivery worker and the webhook sender beside it (it does nothing unless OUTPOST_WEBHOOK_URLS is
 * set); both configurations are read first, so a bad one stops the start before anything runs.
 */
async function startDeliveryWithWebhooks(config: Config, logger: Logger, tracer: Tracer) {
  const delivery = loadDeliveryConfig(process.env);
  const webhookConfig = loadWebhookConfig(process.env);
  const worker = await startDelivery({ config, delivery, logger, tracer });
  const webhooks = await startWebhookSender({
    config,
    webhookConfig,
    logger: logger.child({ service: 'webhooks' }),
  });
  return {
    async stop() {
      await webhooks.stop();
      await worker.stop();
    },
  };
}

const webhooksOn = () => loadWebhookConfig(process.env).urls.length > 0;
