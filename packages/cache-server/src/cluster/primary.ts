import type { CacheServerConfig, EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import type { PurgeSelection } from '../admin/purge-entries.js';
import { tagsOf } from '../admin/tags.js';
import { openDiskStore, openRedisStore } from '../compose-store.js';
import type { LoadedConfig } from '../config/load-config.js';
import { policyOptionsFrom } from '../config/policy-options.js';
import { SELF_SIGNED } from '../config/values.js';
import { loadCertificates } from '../listen/certificates.js';
import { createLiveConfig, openAccessLog } from '../app.js';
import { readyLine } from '../listen/addresses.js';
import { useClusterRequestIds } from '../logger.js';
import { createReloadMetrics } from '../admin/config-endpoints.js';
import { isRedisStore } from '../store/redis/redis-url.js';
import { createPurgeAnnouncer } from '../store/redis/tier-sync.js';
import type { Store } from '../store/store.js';
import { createAdminHost } from './admin-host.js';
import { ClusterTelemetry } from './cluster-telemetry.js';
import { CollapseHost } from './collapse-host.js';
import { OP, type AdminAnswer, type AdminRequest, type WorkerReport } from './protocol.js';
import { StoreHost } from './store-host.js';
import { Supervisor } from './supervisor.js';

/** The store as the primary holds it: the disk store it owns, or its own node on Redis. */
interface PrimaryStore {
  store: Store;
  host?: StoreHost;
  /** Tells other machines' nodes about a purge (Redis). */
  announceElsewhere?(selection: PurgeSelection): Promise<void>;
}

/**
 * The primary of `--workers N` (docs/design.md, Workers): it owns the disk store (one writer, one
 * eviction authority), keeps the key locks that collapse misses across workers, runs the admin
 * endpoints for the whole cache, and supervises the workers. It serves no client itself.
 * SIGTERM and SIGINT drain every worker, then close the store.
 */
export async function runPrimary(loaded: LoadedConfig, reload: () => LoadedConfig, logger: Logger): Promise<void> {
  const { config } = loaded;
  // A self-signed pair is made here, once, before any worker starts: workers making their own at
  // the same time would each serve another certificate, and race writing the kept files.
  if (config.tlsCert === SELF_SIGNED) await loadCertificates(config);
  const opened = await openPrimaryStore(config, logger.child({ component: 'store' }));
  const collapse = new CollapseHost();
  const supervisor: Supervisor = new Supervisor({
    count: config.workers,
    logger,
    attach: (member) => {
      const detachStore = opened.host?.attach(member.bus);
      const detachCollapse = collapse.attach(member.bus);
      member.bus.handle<AdminRequest, AdminAnswer>(OP.admin, (request) => admin.handle(request));
      return () => {
        detachStore?.();
        detachCollapse();
      };
    },
    gone: (member) => void opened.host?.removeStaged(member.pid),
  });
  const workerList = () =>
    supervisor
      .list()
      .map(({ slot, pid, restarts, forkedAt, listening }) => ({ slot, pid, restarts, forkedAt, listening }));
  const telemetry = new ClusterTelemetry(
    opened.store,
    () => supervisor.ask<WorkerReport>(OP.report),
    () => workerList(),
  );
  // The config file is read by every process; a reload here (SIGHUP, POST <admin>/config/reload)
  // reloads every worker too, each before the admin answer goes out (its barrier follows).
  const countReload = createReloadMetrics(telemetry.registry, () => live);
  const live = createLiveConfig(config, { fileHash: loaded.fileHash, reload }, logger, (result) => {
    countReload(result);
    if (result.ok) void supervisor.ask(OP.reload);
  });
  // Requests on --admin-port get their access lines here (the workers log their own), with ids
  // of slot 0: the workers are 1…N.
  useClusterRequestIds(0, 0);
  const accessLog = openAccessLog(config, logger);
  const admin = await createAdminHost({
    accessLog,
    config,
    live,
    store: opened.store,
    telemetry,
    logger,
    barrier: async () => void (await supervisor.ask(OP.barrier)),
    workers: () => workerList(),
    collapse: () => collapse.stats(),
    announcePurge: async (selection) => {
      await supervisor.ask(OP.purge, { notice: selection });
      await opened.announceElsewhere?.(selection);
    },
    dropLocalCopies: async (selection) =>
      (await supervisor.ask<number>(OP.purge, { notice: selection, abandon: true })).reduce((sum, n) => sum + n, 0),
    softenFetches: async (selection) =>
      (await supervisor.ask<number>(OP.purge, { notice: selection, soften: true })).reduce((sum, n) => sum + n, 0),
  });

  let closing: Promise<void> | undefined;
  const shutdown = (signal: string) => {
    closing ??= (async () => {
      logger.info({ signal }, 'shutting down: draining every worker');
      try {
        await supervisor.drain();
        await admin.close();
        accessLog?.close();
        await opened.store.close();
        process.exit(0);
      } catch (error) {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      }
    })();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    if (closing) return;
    // logrotate signals the primary only: every worker reopens its access log file, and so does it.
    accessLog?.reopen();
    void supervisor.ask(OP.reopenLogs);
    live.reload();
  });

  try {
    await supervisor.start();
  } catch (error) {
    // A worker could not start (a taken port, an unreadable directory): its own error is on stderr.
    logger.error({ err: error }, 'the workers could not start');
    await supervisor.drain();
    await opened.store.close();
    process.exit(1);
  }
  const adminAddress = await admin.listen();
  // Every listener, as a single process names them: the workers share the ports (any one tells).
  const ready = readyLine({ ...supervisor.list()[0]?.addresses, admin: adminAddress }, config.adminPrefix);
  logger.info(
    {
      origin: config.origin,
      cacheDir: config.cacheDir,
      maxSize: config.maxSize,
      workers: config.workers,
      adminPort: adminAddress?.port,
      ...ready.fields,
    },
    ready.message,
  );
}

async function openPrimaryStore(config: Readonly<CacheServerConfig>, logger: Logger): Promise<PrimaryStore> {
  if (isRedisStore(config.store)) {
    // The workers are nodes of their own on Redis; this one only answers the admin endpoints.
    const redis = await openRedisStore(config, policyOptionsFrom(config), logger);
    const entryTags = (entry: EntryMeta) => tagsOf(entry.headers, config.tagHeaders);
    return { store: redis, announceElsewhere: createPurgeAnnouncer(undefined, redis.bus, entryTags) };
  }
  const disk = await openDiskStore(config, logger);
  return { store: disk, host: new StoreHost(disk, logger) };
}
