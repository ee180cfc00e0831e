import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { METHODS, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { CacheServerConfig } from '@simple-cache/common';
import { ADMIN_HOST, buildAdminServer } from './admin/admin-server.js';
import { adminPlugin, createTelemetry, type AdminDeps, type Telemetry } from './admin/index.js';
import { createReloadMetrics } from './admin/config-endpoints.js';
import { selectsFetch } from './admin/purge-entries.js';
import { accessLogController, createAccessLog, withAccessLog, type AccessLog } from './access-log.js';
import { composeStore, type OpenedStore, type StoreOverrides } from './compose-store.js';
import { loadConfig, resolveConfig, type LoadedConfig } from './config/load-config.js';
import { OPTIONS } from './config/option-table.js';
import { policyOptionsFrom } from './config/policy-options.js';
import { ERRORS } from './errors.js';
import { checkAtFrontDoor, refuseUnknownMethod } from './front-door.js';
import { followsClosingResponse } from './closing-connections.js';
import { leaveBodiesUnparsed } from './unparsed-bodies.js';
import { LiveConfig, type ReloadResult } from './live-config.js';
import { installLimits, refuse, serverOptions } from './limits/limits.js';
import { createListeners, type Listeners } from './listen/listeners.js';
import { assignRequestId, createLogger } from './logger.js';
import { createOriginClient } from './origin/origin-client.js';
import { originTlsOptions } from './origin/origin-tls.js';
import type { ProxyDeps } from './proxy/context.js';
import { createFastHit, type FastHit } from './proxy/fast-hit.js';
import { createProxy, type Proxy } from './proxy/proxy.js';
import { headRulesFrom } from './proxy/respond/heads.js';
import { hasHotReads, type Store } from './store/store.js';

export interface CacheServer {
  app: FastifyInstance;
  store: Store;
  proxy: Proxy;
  config: Readonly<CacheServerConfig>;
  /** Hits answered before the router (undefined without a memory tier). */
  fastHit?: FastHit;
  /** The separate admin server (`--admin-port`, on 127.0.0.1); it listens when `app` gets ready. */
  admin?: FastifyInstance;
  /** The config in force and its reload (SIGHUP, `POST <admin>/config/reload`). */
  live: LiveConfig;
  /** The servers accepting clients: the plain port (`app.server`) and, with `--tls-cert`, the TLS port. */
  listeners: Listeners;
  telemetry: Telemetry;
  /** One line per request (`--access-log`); undefined when off. SIGHUP reopens its file. */
  accessLog?: AccessLog;
}

/**
 * How a worker of a cluster (`--workers`, cluster/worker.ts) differs from a single process: its
 * store is a replica of the primary's (or a Redis node), and the primary answers admin requests
 * for the whole cache (and serves `--admin-port`).
 */
export interface WorkerWiring {
  parts: OpenedStore;
  forwardAdmin(app: FastifyInstance): void;
}

export interface BuildOptions {
  logger?: Logger;
  store?: StoreOverrides;
  /** The config file's sha256, when the config came from one. */
  fileHash?: string | undefined;
  /** Loads the config again from its sources, for a reload; without it a reload re-applies `config`. */
  reload?: () => Pick<LoadedConfig, 'config' | 'fileHash'>;
  worker?: WorkerWiring;
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * Builds the Fastify instance and wires the parts together. No caching logic lives here: every
 * request goes to the proxy, which owns the response (hijacked) so that bodies stream straight
 * between origin, store and client.
 */
export async function buildCacheServer(
  config: Readonly<CacheServerConfig>,
  options: BuildOptions = {},
): Promise<CacheServer> {
  // Every line says which node wrote it (several nodes behind one load balancer log to one place).
  const logger = (options.logger ?? createLogger(config.logLevel, 'stdout', { adminToken: config.adminToken })).child({
    node: config.nodeId,
  });
  const policy = policyOptionsFrom(config);
  // First: a file it cannot write fails start-up before anything else is opened.
  const accessLog = openAccessLog(config, logger);
  // Fastify's request handler, known once Fastify calls serverFactory below.
  let fastifyHandler: (req: IncomingMessage, res: ServerResponse) => void = () => {};
  let admits: (raw: IncomingMessage) => boolean = () => false;
  /** The methods Fastify routes (set once it is ready); only HTTP/2 brings others (front-door.ts refuses them). */
  let routable: ReadonlySet<string> = new Set();
  let accept: (raw: IncomingMessage) => void = () => undefined;
  /** Set once close() starts: requests still arriving on open connections get CACHE_ERR_SHUTTING_DOWN. */
  let closing = false;
  const clientLimits = serverOptions(config);
  // Every request, on every port and protocol: fresh hits on small objects held in memory are
  // answered before Fastify's router and hooks (proxy/fast-hit.ts); everything else, and anything
  // the limits would refuse, goes to Fastify. Built first: a certificate that cannot be used
  // fails start-up before anything is opened.
  const listeners = await createListeners(
    config,
    clientLimits,
    (req, res) => {
      // Nothing after a response that closes the connection (front-door.ts).
      if (followsClosingResponse(req)) return;
      // Host and the request target first (absolute-form is rewritten): limits/request-target.ts.
      accept(req);
      if (fastHit !== undefined && !closing && admits(req) && fastHit.tryServe(req, res)) return;
      if (routable.has(req.method ?? '')) fastifyHandler(req, res);
      else refuseUnknownMethod(req, res, config.name, logger);
    },
    logger,
  );
  // The origin's certificate files: read before the store opens, so a bad one fails start-up cleanly.
  const originTls = originTlsOptions(config);
  // A store shared by several nodes (Redis) also collapses misses and announces purges across them.
  const { store, collapse, announcePurge, dropLocalCopies, useEntryPolicy } =
    options.worker?.parts ?? (await composeStore(config, policy, logger.child({ component: 'store' }), options.store));
  const originLog = logger.child({ component: 'origin' });
  const untimedOrigin = createOriginClient({
    timeout: config.originTimeout,
    maxBodySize: config.maxBodySize,
    onFault: (message, url) => originLog.warn({ url }, message),
    tls: originTls,
  });
  if (config.originInsecure && config.origin.startsWith('https:')) {
    originLog.warn(
      { origin: config.origin, option: 'origin-insecure' },
      'ORIGIN CERTIFICATE CHECKS ARE OFF (--origin-insecure): anyone on the path can read and change what is cached. For tests only.',
    );
  }
  // Metrics watch the proxy (observer) and the origin client (timed); the proxy knows neither.
  const telemetry = createTelemetry({ store, inFlight: () => proxy.inFlight.size, nodeId: config.nodeId });
  const live = createLiveConfig(
    config,
    options,
    logger,
    createReloadMetrics(telemetry.registry, () => live),
    listeners,
  );
  // Redis expires an entry by the policy the proxy uses it under: the live rules for its key and status.
  useEntryPolicy?.((entry) => live.current.rules.forRequest('GET', entry.key).policyFor(entry.status));
  const origin = telemetry.observeOrigin(untimedOrigin);
  const proxyDeps: ProxyDeps = {
    config,
    policy,
    heads: headRulesFrom(config, policy),
    live,
    store,
    origin,
    logger,
    // Every exchange's Outcome, fast hits included, goes to the metrics and the access log.
    observer: withAccessLog(telemetry.observer, accessLog),
    ...(collapse ? { collapse } : {}),
  };
  const proxy = createProxy(proxyDeps);
  const adminDeps: AdminDeps = {
    config,
    policy,
    store,
    origin: untimedOrigin,
    telemetry,
    live,
    inFlight: () => proxy.inFlight.size,
    ...(announcePurge ? { announcePurge } : {}),
    ...(dropLocalCopies ? { dropLocalCopies } : {}),
    abandonFetches: (selects) => proxy.abandon(selects),
    softenFetches: (selection) => proxy.soften(selectsFetch(selection, config.tagHeaders)),
  };

  const fastHit = hasHotReads(store) ? createFastHit(proxyDeps, store) : undefined;
  /** Requests the proxy answers: their access line comes from their Outcome, not from Fastify. */
  const proxied = new WeakSet<IncomingMessage>();
  const logController = accessLogController(accessLog, (raw) => proxied.has(raw));
  const app = Fastify({
    serverFactory: (fastify) => {
      fastifyHandler = fastify;
      return listeners.http;
    },
    loggerInstance: logger as FastifyBaseLogger,
    // One access line per request instead of Fastify's two; the fast path's hits share the ids.
    genReqId: assignRequestId,
    logController,
    // The proxy answers every path itself; the router must not reject or rewrite any of them.
    routerOptions: { maxParamLength: 8192 },
    // A target the router cannot decode (`/%zz`: RFC 3986 §2.1 pct-encoding) gets the catalogue's
    // 400, as nginx answers it, never Fastify's own JSON (nor the proxy: the admin prefix guard and
    // the limits are hooks, which do not run for it).
    frameworkErrors: (_error, request, reply) => {
      // Fastify logs no completion for these: the access line is ours to write.
      reply.raw.once('finish', () => logController.requestCompleted(null, request, reply));
      refuse(reply, config, ERRORS.badRequestTarget, false);
    },
    // While closing, requests on connections still open get the catalogue's 503 (hook below), not
    // Fastify's JSON one.
    return503OnClosing: false,
    // Timeouts, header size: the client side's limits (limits/limits.ts).
    ...clientLimits,
  });
  ({ admits, accept } = installLimits(app, config, listeners.servers));
  app.addHook(
    'onRequest',
    checkAtFrontDoor(config, () => closing),
  );
  // Request bodies are streamed to the origin untouched, never parsed (unparsed-bodies.ts).
  leaveBodiesUnparsed(app);

  // Admin endpoints under --admin-prefix, and PURGE; before the catch-all so its guard sees every request.
  if (config.adminPrefix !== '') {
    if (options.worker) options.worker.forwardAdmin(app);
    else await app.register(adminPlugin, adminDeps);
  }
  const admin =
    config.adminPort === null || options.worker
      ? undefined
      : await buildAdminServer(
          adminDeps,
          logger.child({ component: 'admin' }),
          accessLogController(accessLog, () => false),
        );
  if (admin) {
    // onReady, not onListen: a taken admin port must fail start-up, not be logged and ignored.
    app.addHook('onReady', async () => {
      await admin.listen({ port: config.adminPort ?? 0, host: ADMIN_HOST });
    });
    app.addHook('onClose', () => admin.close());
  }

  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    proxied.add(request.raw);
    return proxy.handle(request.raw, reply.raw, request.log);
  };
  app.route({ method: [...ALL_METHODS], url: '/*', handler });
  // Targets the router does not match (other methods, absolute-form, `*`) still get the proxy's answer.
  app.setNotFoundHandler(handler);
  // Node's methods reach the not-found handler through find-my-way, which routes every one of them.
  app.addHook('onReady', async () => {
    routable = new Set([...METHODS, ...app.supportedMethods]);
  });

  // The TLS port listens with the plain one (a taken port fails start-up) and closes with it:
  // no new connections once closing starts, HTTP/2 sessions told GOAWAY, responses finish.
  app.addHook('onReady', () => listeners.listenTls());
  let tlsClosed: Promise<void> | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    tlsClosed = listeners.closeTls();
  });
  app.addHook('onClose', async () => {
    await (tlsClosed ?? listeners.closeTls());
    await store.close();
    origin.close();
    accessLog?.close();
  });
  return {
    app,
    store,
    proxy,
    config,
    live,
    telemetry,
    listeners,
    ...(fastHit ? { fastHit } : {}),
    ...(admin ? { admin } : {}),
    ...(accessLog ? { accessLog } : {}),
  };
}

/** The access log `--access-log` asks for, or undefined when off; a file it cannot write throws. */
export function openAccessLog(config: Readonly<CacheServerConfig>, logger: Logger): AccessLog | undefined {
  if (config.accessLog === 'off') return undefined;
  return createAccessLog({
    format: config.accessLog,
    file: config.accessLogFile,
    query: config.accessLogQuery,
    logger,
    adminToken: config.adminToken,
  });
}

/** The reloadable config: one log line per reload, whatever its result, and the reload metric. */
export function createLiveConfig(
  config: Readonly<CacheServerConfig>,
  options: Pick<BuildOptions, 'fileHash' | 'reload'>,
  logger: Logger,
  countReload: (result: ReloadResult) => void,
  // A cluster's primary has none: its workers re-read the certificates on their reload.
  listeners?: Listeners,
): LiveConfig {
  const flags = new Map<string, string>(OPTIONS.map((spec) => [spec.field, spec.flag]));
  return new LiveConfig(
    { config, fileHash: options.fileHash },
    {
      load: options.reload ?? (() => ({ config, fileHash: options.fileHash })),
      flagOf: (field) => flags.get(field) ?? field,
      setLogLevel: (level) => (logger.level = level),
      // SIGHUP also re-reads the certificate files (a renewal): a bad pair fails the reload.
      ...(listeners?.tls ? { prepare: (next) => listeners.prepareCertificates(next) } : {}),
      onReload: (result) => {
        countReload(result);
        const file = config.configFile || undefined;
        if (!result.ok) {
          logger.error(
            { file, code: result.code, error: result.error },
            'config reload failed; the running config stays',
          );
        } else if (result.needsRestart.length > 0) {
          const { fileHash, applied, needsRestart } = result;
          logger.warn(
            { file, fileHash, applied, needsRestart },
            'config reloaded; some changed options need a restart',
          );
        } else {
          logger.info({ file, fileHash: result.fileHash, applied: result.applied }, 'config reloaded');
        }
      },
    },
  );
}

/** Starts a cache server (tests and embedders): defaults filled in, listening on `port` (0 = any). */
export async function startCacheServer(
  partial: Partial<CacheServerConfig> = {},
  options: BuildOptions = {},
): Promise<CacheServer & { url: string; tlsUrl?: string; adminUrl?: string; close(): Promise<void> }> {
  // With a config file, `partial` ranks as flags do: above the file.
  const load = () => {
    const fromFile = partial.configFile ? loadConfig(['--config', partial.configFile], {}) : undefined;
    const base = fromFile ? { ...fromFile.config } : {};
    return {
      config: resolveConfig({ ...base, host: '127.0.0.1', port: 0, tlsPort: 0, ...partial }),
      fileHash: fromFile?.fileHash,
    };
  };
  const { config, fileHash } = load();
  const server = await buildCacheServer(config, { ...options, fileHash, reload: load });
  await server.app.listen({ port: config.port, host: config.host });
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const adminAddress = server.admin?.server.address();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const tlsAddress = server.listeners.tlsAddress();
  return {
    ...server,
    url: `http://${host}:${port}`,
    ...(tlsAddress ? { tlsUrl: `https://${host}:${tlsAddress.port}` } : {}),
    ...(typeof adminAddress === 'object' && adminAddress
      ? { adminUrl: `http://${ADMIN_HOST}:${adminAddress.port}` }
      : {}),
    close: () => server.app.close(),
  };
}
