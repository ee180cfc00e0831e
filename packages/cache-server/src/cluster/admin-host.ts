import type { Readable } from 'node:stream';
import type { CacheServerConfig, EntryMeta } from '@simple-cache/common';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AdminDeps } from '../admin/admin-deps.js';
import type { LiveConfig } from '../live-config.js';
import { ADMIN_HOST, ADMIN_PORT_PREFIX, buildAdminServer } from '../admin/admin-server.js';
import { Socket, type AddressInfo } from 'node:net';
import { accessLogController, type AccessLog } from '../access-log.js';
import type { PurgeSelection } from '../admin/purge-entries.js';
import { createOriginClient } from '../origin/origin-client.js';
import { policyOptionsFrom } from '../config/policy-options.js';
import {
  errorCountsOf,
  hasStartupWork,
  healthOf,
  type ByteRange,
  type CountsErrors,
  type EntryWriter,
  type MemoryTierStats,
  type ReportsHealth,
  type Store,
  type StoreHealth,
  type StoreStats,
  type TierStats,
} from '../store/store.js';
import type { ClusterTelemetry, WorkerInfo } from './cluster-telemetry.js';
import { WORKER_HEADER } from './admin-forward.js';
import type { AdminAnswer, AdminRequest } from './protocol.js';

export interface AdminHostOptions {
  config: Readonly<CacheServerConfig>;
  /** The config in force (the primary's; a reload reloads every worker too). */
  live: LiveConfig;
  /** The store as a whole: the primary's disk store, or its own connection to Redis. */
  store: Store;
  telemetry: ClusterTelemetry;
  /** Tells every worker about a purge; resolves once each has applied it. */
  announcePurge(selection: PurgeSelection): Promise<void>;
  /** Drops every worker's memory copies of what a purge selects; resolves with how many. */
  dropLocalCopies(selection: PurgeSelection): Promise<number>;
  /** A soft purge: every worker's fetches in flight for what it selects store what they bring stale. */
  softenFetches(selection: PurgeSelection): Promise<number>;
  /** Resolves once every worker has applied every change sent so far. */
  barrier(): Promise<void>;
  /** The workers now: `<prefix>/workers` lists them. */
  workers(): WorkerInfo[];
  /** Keys being fetched by a worker and workers waiting on one (collapse-host.ts), for `<prefix>/workers`. */
  collapse(): { locks: number; waiting: number };
  logger: Logger;
  /** Where requests on --admin-port are logged (`--access-log`), as a single process logs its own. */
  accessLog?: AccessLog | undefined;
}

export interface AdminHost {
  /** Answers an admin request a worker handed over. */
  handle(request: AdminRequest): Promise<AdminAnswer>;
  /** Starts the --admin-port listener, if configured; returns its address. */
  listen(): Promise<AddressInfo | undefined>;
  close(): Promise<void>;
}

const READS = new Set(['GET', 'HEAD']);

/**
 * The admin endpoints of a cluster, run once in the primary for the whole cache: the same
 * plugins a single process registers (admin/), given the store authority and the workers'
 * summed figures. Requests reach them from the workers (admin-forward.ts, through Fastify's
 * `inject`, the client's address kept for purge authorisation) and on `--admin-port`. Before a
 * read the workers' figures are refreshed; before the answer to anything else (a purge, soft or
 * not) every worker has applied it.
 */
export async function createAdminHost(options: AdminHostOptions): Promise<AdminHost> {
  const { config, telemetry } = options;
  const origin = createOriginClient({ timeout: config.originTimeout, maxBodySize: config.maxBodySize });
  const deps: AdminDeps = {
    config,
    policy: policyOptionsFrom(config),
    store: config.memorySize > 0 ? withMemoryStats(options.store, () => telemetry.memoryStats()) : options.store,
    origin,
    telemetry,
    live: options.live,
    inFlight: () => telemetry.inFlight(),
    announcePurge: options.announcePurge,
    dropLocalCopies: options.dropLocalCopies,
    softenFetches: options.softenFetches,
  };
  // Fastify's two lines per request give way to one access line, as in a single process, for a
  // request on --admin-port (a real connection); a call a worker handed over (`inject`: no socket)
  // has its line in that worker's log already.
  const app: FastifyInstance = await buildAdminServer(
    deps,
    options.logger.child({ component: 'admin' }),
    accessLogController(options.accessLog, (raw) => !(raw.socket instanceof Socket)),
  );
  app.addHook('onRequest', async (request) => {
    if (READS.has(request.raw.method ?? 'GET')) await telemetry.refresh();
  });
  app.addHook('onSend', async (request) => {
    if (!READS.has(request.raw.method ?? 'GET')) await options.barrier();
  });
  app.addHook('onClose', () => origin.close());
  // Which worker handed the request over (the connection's worker), and every worker.
  const prefix = config.adminPrefix || ADMIN_PORT_PREFIX;
  app.get(`${prefix}/workers`, { config: { admin: true } }, async (request) => {
    const slot = Number(request.headers[WORKER_HEADER]);
    const workers = options.workers();
    return {
      answeredBy: workers.find((worker) => worker.slot === slot) ?? null,
      workers,
      collapse: options.collapse(),
    };
  });
  await app.ready();

  return {
    async handle(request) {
      const response = await app.inject({
        method: request.method as 'GET',
        url: request.url,
        headers: request.headers as Record<string, string>,
        remoteAddress: request.remoteAddress ?? '',
        ...(request.body !== undefined ? { payload: Buffer.from(request.body, 'base64') } : {}),
      });
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value : String(value);
      }
      return { status: response.statusCode, headers, body: response.rawPayload.toString('base64') };
    },
    async listen() {
      if (config.adminPort === null) return undefined;
      await app.listen({ port: config.adminPort, host: ADMIN_HOST });
      const address = app.server.address();
      return typeof address === 'object' && address ? address : undefined;
    },
    close: () => app.close(),
  };
}

/**
 * `store` with the workers' memory tiers summed as its own (what the stats and metrics show of
 * a single process's tier): everything else is the store's.
 */
function withMemoryStats(
  store: Store,
  memoryStats: () => MemoryTierStats | undefined,
): Store & TierStats & ReportsHealth & CountsErrors {
  return {
    lookup: (key: string) => store.lookup(key),
    openBody: (entry: EntryMeta, range?: ByteRange): Promise<Readable> => store.openBody(entry, range),
    beginWrite: (meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter => store.beginWrite(meta),
    markUsed: (entry: EntryMeta) => store.markUsed(entry),
    updateMeta: (meta: EntryMeta) => store.updateMeta(meta),
    delete: (key: string, variant?: string) => store.delete(key, variant),
    entries: () => store.entries(),
    stats: (): StoreStats => store.stats(),
    close: () => store.close(),
    health: (): StoreHealth => healthOf(store),
    errorCounts: () => errorCountsOf(store),
    ...(hasStartupWork(store) ? { ready: () => store.ready() } : {}),
    memoryStats: () => memoryStats() ?? { entries: 0, size: 0, maxSize: 0, hits: 0, misses: 0 },
  };
}
