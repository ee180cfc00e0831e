/**
 * The origin: a folder served by @fastify/static, plus a request counter. It knows nothing about
 * caching beyond sending the validators and the configured Cache-Control a cache needs.
 */
import fastifyStatic from '@fastify/static';
import { HEADER, type MainServerConfig } from '@simple-cache/common';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { ensureBigFile } from './big-file.js';
import { DEMO_ROOT, createConfig } from './config.js';
import { redirectDirectories } from './directory-redirect.js';
import { listenOrigin } from './listen.js';
import { createLoggerOptions } from './logger.js';
import { renderDirectoryListing } from './pages/directory-listing.js';
import { renderNotFoundPage } from './pages/not-found-page.js';
import { registerRequestCount } from './request-count.js';

/** The wildcard route @fastify/static registers for the default prefix `/`. */
const STATIC_ROUTE = '/*';

export interface BuildOriginOptions {
  /** A pino logger to use, `false` for none, `true` or absent for one built from the config. */
  logger?: Logger | boolean;
}

export async function buildOriginApp(
  config: MainServerConfig,
  opts: BuildOriginOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify(selectLogger(config, opts.logger)) as unknown as FastifyInstance;

  registerRequestCount(app);
  applyCacheControl(app, config.cacheControl);
  redirectDirectories(app, config.root, STATIC_ROUTE);

  await app.register(fastifyStatic, {
    root: config.root,
    // Cache-Control comes from the config (applyCacheControl), not from send's `max-age=0`.
    cacheControl: false,
    // Directories without a trailing slash are redirected before this plugin sees them.
    redirect: false,
    list: { format: 'html', names: ['/'], render: renderDirectoryListing },
  });

  app.setNotFoundHandler(async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? request.url;
    return reply.code(404).type('text/html; charset=utf-8').send(renderNotFoundPage(pathname));
  });

  return app;
}

/**
 * Every successful response gets the configured Cache-Control (files, listings, redirects,
 * 304s, which RFC 9110 §15.4.5 says carry it too). Errors and 404s get none, so a cache does not
 * keep a failure for as long as a file; routes that set their own value keep it.
 */
function applyCacheControl(app: FastifyInstance, cacheControl: string): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode < 400 && !reply.hasHeader(HEADER.cacheControl)) {
      reply.header(HEADER.cacheControl, cacheControl);
    }
    return payload;
  });
}

function selectLogger(config: MainServerConfig, logger: Logger | boolean | undefined): FastifyServerOptions {
  if (typeof logger === 'object') return { loggerInstance: logger } as FastifyServerOptions;
  // A silent origin needs no logger at all (and no pino-pretty worker thread in tests).
  if (logger === false || config.logLevel === 'silent') return { logger: false };
  return { logger: createLoggerOptions(config.logLevel) };
}

export interface RunningOrigin {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234. */
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Defaults for an origin started from code: a free port on loopback, quiet. */
const IN_PROCESS_DEFAULTS = createConfig({ port: 0, host: '127.0.0.1', logLevel: 'silent' });

/**
 * Builds and starts an origin (for tests and the demo). Serving the demo site makes sure its
 * `big.bin` exists; another root is served as it is.
 */
export async function startOrigin(partial: Partial<MainServerConfig> = {}): Promise<RunningOrigin> {
  const config = createConfig(partial, IN_PROCESS_DEFAULTS);
  if (config.root === DEMO_ROOT) await ensureBigFile(config.root);
  const app = await buildOriginApp(config);
  try {
    const url = await listenOrigin(app, config.port, config.host);
    return { url, app, close: () => app.close() };
  } catch (error) {
    await app.close();
    throw error;
  }
}
