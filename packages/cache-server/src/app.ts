import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CacheServerConfig } from '@simple-cache/common';
import { resolveConfig } from './config.js';
import { createLogger } from './logger.js';
import { createOriginClient } from './origin/origin-client.js';
import { DEFAULT_POLICY_OPTIONS } from './policy/index.js';
import { createProxy, type Proxy } from './proxy/proxy.js';
import { DiskStore } from './store/disk-store.js';
import type { Store } from './store/store.js';

export interface CacheServer {
  app: FastifyInstance;
  store: Store;
  proxy: Proxy;
  config: Readonly<CacheServerConfig>;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * Builds the Fastify instance and wires the parts together. No caching logic lives here: every
 * request goes to the proxy, which owns the response (hijacked) so that bodies stream straight
 * between origin, store and client.
 */
export async function buildCacheServer(
  config: Readonly<CacheServerConfig>,
  options: { logger?: Logger } = {},
): Promise<CacheServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await DiskStore.open({
    dir: config.cacheDir,
    maxSize: config.maxSize,
    logger: logger.child({ component: 'store' }),
  });
  const origin = createOriginClient({ timeout: config.originTimeout });
  const proxy = createProxy({ config, policy: DEFAULT_POLICY_OPTIONS, store, origin, logger });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The proxy answers every path itself; the router must not reject or rewrite any of them.
    routerOptions: { maxParamLength: 8192 },
    return503OnClosing: true,
  });
  // Request bodies are streamed to the origin untouched, never parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    return proxy.handle(request.raw, reply.raw, request.log);
  };
  app.route({ method: [...ALL_METHODS], url: '/*', handler });
  // Targets the router does not match (other methods, absolute-form, `*`) still get the proxy's answer.
  app.setNotFoundHandler(handler);

  app.addHook('onClose', async () => {
    await store.close();
    origin.close();
  });
  return { app, store, proxy, config };
}

/** Starts a cache server (tests and embedders): defaults filled in, listening on `port` (0 = any). */
export async function startCacheServer(
  partial: Partial<CacheServerConfig> = {},
  options: { logger?: Logger } = {},
): Promise<CacheServer & { url: string; close(): Promise<void> }> {
  const config = resolveConfig({ host: '127.0.0.1', port: 0, ...partial });
  const server = await buildCacheServer(config, options);
  await server.app.listen({ port: config.port, host: config.host });
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    ...server,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    close: () => server.app.close(),
  };
}
