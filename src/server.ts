// Entry point: environment -> config -> buildApp -> listen; on SIGINT/SIGTERM, a graceful
// shutdown bounded by SHUTDOWN_DRAIN_TIMEOUT_MS (src/shutdown.ts). `npm start` execs this file's
// node process, so the signals npm forwards reach it.
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { closeOnSignals } from './shutdown.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(config);
  closeOnSignals(app, config.shutdownDrainTimeoutMs, config.shutdownReadinessDelayMs);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
