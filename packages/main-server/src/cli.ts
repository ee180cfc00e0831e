/**
 * `pnpm --filter main-server start [PORT] [options]`: argv + environment → config (validated once,
 * frozen) → origin → listen. SIGINT/SIGTERM close it gracefully (in-flight requests finish).
 */
import { OptionError } from '@simple-cache/common';
import { BIG_FILE_NAME, ensureBigFile } from './big-file.js';
import { DEMO_ROOT, formatMainServerHelp, readConfig, type ReadConfigResult } from './config.js';
import { listenOrigin } from './listen.js';

/** Exit status for a bad command line, as in most Unix tools. */
const EXIT_USAGE = 2;

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  let parsed: ReadConfigResult;
  try {
    parsed = readConfig(argv, env);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    process.stderr.write(`main-server: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (parsed.help) {
    process.stdout.write(`${formatMainServerHelp()}\n`);
    return 0;
  }

  const { config } = parsed;
  // Loaded once the options are known good: `--help` or a bad option need no Fastify.
  const { buildOriginApp } = await import('./app.js');
  const app = await buildOriginApp(config);
  // Only the demo site gets big.bin; a folder the user points us at is served untouched.
  if (config.root === DEMO_ROOT && (await ensureBigFile(config.root))) {
    app.log.info({ file: BIG_FILE_NAME }, 'generated the demo big file');
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.log.info({ signal }, 'shutting down');
      app.close().then(
        () => {
          process.exitCode = 0;
        },
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exitCode = 1;
        },
      );
    });
  }

  try {
    await listenOrigin(app, config.port, config.host);
  } catch (error) {
    app.log.fatal({ err: error }, 'could not listen');
    await app.close();
    return 1;
  }
  return undefined;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`main-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
