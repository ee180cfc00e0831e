import { formatHelp, OptionError } from '@simple-cache/common';
import { loadConfig, OPTIONS, USAGE } from './config.js';

/** argv + env → config (validated once, frozen) → server; SIGINT/SIGTERM close it gracefully. */
async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof OptionError) {
      process.stderr.write(`cache-server: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (loaded.help) {
    process.stdout.write(`${formatHelp(USAGE, OPTIONS)}\n`);
    return;
  }
  const { config } = loaded;
  // Loaded once the options are known good: Fastify, got and the rest take most of start-up, and
  // `--help` or a bad option need none of them.
  const { buildCacheServer } = await import('./app.js');
  const server = await buildCacheServer(config);
  const { app } = server;
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight responses');
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  await app.listen({ port: config.port, host: config.host });
  app.log.info({ origin: config.origin, cacheDir: config.cacheDir, maxSize: config.maxSize }, 'cache-server ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`cache-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
