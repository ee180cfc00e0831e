import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import { selectsFetch } from '../admin/purge-entries.js';
import { tagsOf } from '../admin/tags.js';
import type { CacheServer } from '../app.js';
import { hasTierStats } from '../store/store.js';
import { composeStore, withMemoryTier, type OpenedStore } from '../compose-store.js';
import type { LoadedConfig } from '../config/load-config.js';
import { policyOptionsFrom } from '../config/policy-options.js';
import { isRedisStore } from '../store/redis/redis-url.js';
import { dropPurgedCopies } from '../store/redis/tier-sync.js';
import type { DiskReplica } from '../store/disk-replica.js';
import { forwardAdminRequests } from './admin-forward.js';
import { Bus, primaryEndpoint } from './bus.js';
import { createCollapseClient } from './collapse-client.js';
import { addressOf } from '../listen/addresses.js';
import { useClusterRequestIds } from '../logger.js';
import { OP, type ListeningEvent, type PurgeArgs, type WorkerReport } from './protocol.js';
import { openReplica } from './store-client.js';

/** Seconds of per-second history a worker reports (the most the stats endpoint shows). */
const HISTORY_SECONDS = 600;

/**
 * One worker of a cluster (`--workers`): a whole cache server on the shared port, whose store
 * is the primary's disk store seen through a replica (or, with `--store redis://…`, a Redis
 * node of its own), whose misses collapse with the other workers' through the primary, and
 * whose admin requests the primary answers for the whole cache. It drains on SIGTERM or when
 * the primary says so; SIGINT (a terminal's Ctrl-C reaches every process of the group) is left
 * to the primary, which then drains everyone once.
 */
export async function runWorker(loaded: LoadedConfig, reload: () => LoadedConfig, logger: Logger): Promise<void> {
  const { config } = loaded;
  const slot = Number(process.env.SC_WORKER_SLOT ?? 0);
  useClusterRequestIds(slot, Number(process.env.SC_WORKER_RESTARTS ?? 0));
  const bus = new Bus(primaryEndpoint());
  process.once('disconnect', () => bus.close());
  const storeLogger = logger.child({ component: 'store' });
  const entryTags = (entry: EntryMeta) => tagsOf(entry.headers, config.tagHeaders);
  let replica: DiskReplica | undefined;
  let parts: OpenedStore;
  if (isRedisStore(config.store)) {
    parts = await composeStore(config, policyOptionsFrom(config), storeLogger);
  } else {
    replica = openReplica(bus, {
      dir: config.cacheDir,
      maxSize: config.maxSize,
      maxObjectSize: config.maxObjectSize,
      logger: storeLogger,
    });
    const tier = withMemoryTier(config, replica);
    parts = {
      store: tier ?? replica,
      ...(config.collapseWait > 0 ? { collapse: createCollapseClient(bus) } : {}),
      dropLocalCopies: (notice) => (tier ? dropPurgedCopies(tier, notice, entryTags) : 0),
    };
  }

  const { buildCacheServer } = await import('../app.js');
  const server: CacheServer = await buildCacheServer(config, {
    logger,
    fileHash: loaded.fileHash,
    reload,
    worker: { parts, forwardAdmin: (app) => forwardAdminRequests(app, bus, config.adminPrefix, slot) },
  });
  const { app, store, telemetry, proxy } = server;
  const startedAt = Date.now();

  bus.handle<null, WorkerReport>(OP.report, async () => {
    // Uses first: they travel ahead of the answer, so the primary's hit counts include them.
    replica?.reportUses();
    return {
      slot,
      pid: process.pid,
      startedAt,
      totals: telemetry.totals(),
      history: telemetry.history.series(HISTORY_SECONDS),
      inFlight: proxy.inFlight.size,
      ...(hasTierStats(store) ? { memory: store.memoryStats() } : {}),
      rss: process.memoryUsage().rss,
      metrics: await telemetry.metricsJson(),
    };
  });
  // Every change sent before it has been applied: the channel is ordered.
  bus.handle(OP.barrier, () => null);
  // What a purge selects, dropped from this worker's memory tier (how many bodies), and before the
  // store's purge the fetches in flight for it abandoned, as a single process does (admin/purge.ts).
  bus.handle<PurgeArgs, number>(OP.purge, ({ notice, abandon, soften }) => {
    if (soften) return proxy.soften(selectsFetch(notice, config.tagHeaders));
    if (abandon) proxy.abandon(selectsFetch(notice, config.tagHeaders));
    return parts.dropLocalCopies?.(notice) ?? 0;
  });

  let draining: Promise<void> | undefined;
  const drain = (reason: string) => {
    draining ??= (async () => {
      app.log.info({ reason }, 'worker draining: finishing in-flight responses');
      try {
        await app.close();
        process.exit(0);
      } catch (error) {
        app.log.error({ err: error }, 'worker shutdown failed');
        process.exit(1);
      }
    })();
  };
  bus.on(OP.drain, () => drain('primary'));
  process.once('SIGTERM', () => drain('SIGTERM'));
  // The primary drains and reloads every worker once (a terminal's signals reach the whole group).
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  bus.handle(OP.reload, () => server.live.reload());
  bus.handle(OP.reopenLogs, () => {
    server.accessLog?.reopen();
    return null;
  });

  await app.listen({ port: config.port, host: config.host });
  const listening: ListeningEvent = {
    slot,
    pid: process.pid,
    addresses: { http: addressOf(app.server), https: server.listeners.tlsAddress() },
  };
  bus.notify(OP.listening, listening);
}
