import { type Config, ConfigError, loadConfig } from '@outpost/config';
import { createLogger, type Logger, setupTracing, type Tracer } from '@outpost/telemetry';

export interface RunningService {
  stop(): Promise<void>;
}

/**
 * Boots a service the same way for every verb: validated configuration (all problems at once,
 * then exit 2), one logger, and a graceful stop on SIGTERM/SIGINT.
 */
export async function runService(
  name: string,
  start: (config: Config, logger: Logger, tracer: Tracer) => Promise<RunningService>,
): Promise<void> {
  const config = loadConfigOrExit(name);
  const logger = createLogger({ service: name, level: config.logLevel });
  // OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; a no-op tracer otherwise.
  const tracing = setupTracing({ serviceName: `outpost-${name}` });
  let service: RunningService;
  try {
    service = await start(config, logger, tracing.tracer);
  } catch (error) {
    logger.fatal({ err: error }, `${name} failed to start`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs).unref();
    service
      .stop()
      .then(() => tracing.shutdown())
      .then(
        () => {
          clearTimeout(force);
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, `${name} did not stop cleanly`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** The validated configuration, or every problem printed at once and exit 2. */
export function loadConfigOrExit(name: string): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`outpost ${name}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
