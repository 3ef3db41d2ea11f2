import './engine/models/ort-telemetry.js'; // first: ONNX Runtime telemetry off for this process and its workers
import { pino } from 'pino';
import { startService } from './app/service.js';
import { ConfigInvalid, loadConfig } from './config/config.js';
import { toClearShotError } from './errors/index.js';

/**
 * Composition root: load and validate the configuration, start the service, shut it
 * down in order on SIGTERM/SIGINT (stop accepting, let running tasks finish or requeue
 * them, close the engine and the database).
 */
const logger = pino({ base: { service: 'clearshot' } });

async function main(): Promise<void> {
  const config = loadConfig();
  logger.level = config.logLevel;
  const service = await startService({ config, logger });
  await service.app.listen({ port: config.port, host: config.host });
  logger.info({ role: config.role, port: config.port, host: config.host, publicUrl: config.baseUrl, dataDir: config.dataPath }, 'ClearShot is ready');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing or requeueing running tasks');
    service
      .close()
      .then(() => logger.info('stopped'))
      .catch((err: unknown) => logger.error({ err }, 'shutdown failed'))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigInvalid) {
    // Plain lines for a person at a terminal: one per problem, all of them.
    for (const problem of err.problems) process.stderr.write(`clearshot: ${problem}\n`);
    process.exit(err.spec.exit);
  }
  const e = toClearShotError(err);
  logger.fatal({ code: e.code, err: e.cause ?? e }, e.message);
  process.exit(e.spec.exit);
});
