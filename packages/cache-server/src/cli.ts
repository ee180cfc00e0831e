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
  const dashboard = dashboardUrl(server);
  app.log.info(
    { origin: config.origin, cacheDir: config.cacheDir, maxSize: config.maxSize, ...(dashboard ? { dashboard } : {}) },
    dashboard ? `cache-server ready; dashboard at ${dashboard}` : 'cache-server ready',
  );
}

/**
 * Where a person finds the dashboard: on the cache port under --admin-prefix, else on
 * --admin-port. A wildcard listen address is shown as localhost, which a browser can open.
 */
function dashboardUrl(server: Awaited<ReturnType<typeof import('./app.js').buildCacheServer>>): string | undefined {
  const { config } = server;
  const listener = config.adminPrefix !== '' ? server.app.server : server.admin?.server;
  const address = listener?.address();
  if (!address || typeof address !== 'object') return undefined;
  const wildcard = ['0.0.0.0', '::', '::0', ''].includes(address.address);
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}${config.adminPrefix !== '' ? config.adminPrefix : ''}/`;
}

main().catch((error: unknown) => {
  process.stderr.write(`cache-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
