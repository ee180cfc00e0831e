import cluster from 'node:cluster';
import { formatHelp, OptionError } from '@simple-cache/common';
import { ConfigFileError, formatResolvedConfig } from './config/file/index.js';
import { loadConfig, type LoadedConfig } from './config/load-config.js';
import { ACTIONS, OPTIONS, PRECEDENCE, USAGE } from './config/option-table.js';

/**
 * argv + env + config file → config (validated once, frozen) → server, or the primary of
 * `--workers N` and its workers (cluster/). SIGINT/SIGTERM close it gracefully (the access log
 * flushed); SIGHUP reopens the access log file and reloads the config file (live-config.ts).
 * `--check-config` validates and prints the resolved config, then exits 0 (valid) or 2 (not), as
 * `nginx -t` does.
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(argv, process.env);
  } catch (error) {
    if (error instanceof OptionError || error instanceof ConfigFileError) {
      process.stderr.write(`cache-server: ${error.message.split('\n').join('\ncache-server: ')}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (loaded.help) {
    process.stdout.write(`${formatHelp(USAGE, OPTIONS, { actions: ACTIONS, precedence: PRECEDENCE })}\n`);
    return;
  }
  const { config } = loaded;
  if (loaded.checkConfig) {
    process.stdout.write(`${formatResolvedConfig(OPTIONS, config, loaded.sources)}\n`);
    const file = config.configFile === '' ? 'the options' : config.configFile;
    process.stderr.write(`cache-server: ${file}: configuration is valid\n`);
    return;
  }
  // `--workers N`: this process supervises N workers (this same program, forked) sharing one cache.
  if (cluster.isWorker || config.workers > 1) {
    const { createLogger } = await import('./logger.js');
    const logger = createLogger(config.logLevel);
    if (cluster.isWorker) {
      const { runWorker } = await import('./cluster/worker.js');
      return runWorker(
        loaded,
        () => loadConfig(argv, process.env),
        logger.child({ worker: Number(process.env.SC_WORKER_SLOT) }),
      );
    }
    const { runPrimary } = await import('./cluster/primary.js');
    return runPrimary(loaded, () => loadConfig(argv, process.env), logger.child({ primary: true }));
  }
  // Loaded once the options are known good: Fastify, got and the rest take most of start-up, and
  // `--help` or a bad option need none of them.
  const { buildCacheServer } = await import('./app.js');
  const server = await buildCacheServer(config, {
    fileHash: loaded.fileHash,
    reload: () => loadConfig(argv, process.env),
  });
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
  // Reopen the access log's file (logrotate has moved it: its habit is SIGHUP), then re-read the
  // config file; the reload logs its own one line, whatever the result.
  process.on('SIGHUP', () => {
    if (closing) return;
    server.accessLog?.reopen();
    server.live.reload();
  });
  await app.listen({ port: config.port, host: config.host });
  const { addressOf, readyLine } = await import('./listen/addresses.js');
  const ready = readyLine(
    { http: addressOf(app.server), https: server.listeners.tlsAddress(), admin: addressOf(server.admin?.server) },
    config.adminPrefix,
  );
  app.log.info(
    { origin: config.origin, cacheDir: config.cacheDir, maxSize: config.maxSize, ...ready.fields },
    ready.message,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`cache-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
