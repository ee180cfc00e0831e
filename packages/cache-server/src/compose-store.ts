import { readFileSync } from 'node:fs';
import type { CacheServerConfig, EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import { tagsOf } from './admin/tags.js';
import type { PolicyOptions } from './policy/index.js';
import type { CrossNodeCollapse } from './proxy/context.js';
import { DiskStore, type DiskStoreOptions } from './store/disk-store.js';
import { MemoryTier, type InnerStore } from './store/memory-tier.js';
import type { ConnectionOptions } from './store/redis/redis-connection.js';
import type { EntryPolicy } from './store/redis/entry-lifetime.js';
import { isRedisStore } from './store/redis/redis-url.js';
import { createPurgeAnnouncer, dropPurgedCopies, syncTierWithBus, type PurgeNotice } from './store/redis/tier-sync.js';
import type { RedisStore } from './store/redis/redis-store.js';
import type { Store } from './store/store.js';

/** Knobs that are not options of the server: tests inject a clock, a failing file system or a block size. */
export type StoreOverrides = Partial<Pick<DiskStoreOptions, 'fs' | 'now' | 'retryDelay' | 'blockSize'>>;

/** The store, and what a store shared by several nodes adds for the proxy and the admin endpoints. */
export interface OpenedStore {
  store: Store;
  /** Collapsing of misses across the nodes (Redis only). */
  collapse?: CrossNodeCollapse;
  /** Tells every node's memory tier what a purge removed (Redis only). */
  announcePurge?: (notice: PurgeNotice) => Promise<void>;
  /** Drops this node's memory copies of what a purge selects, when the purge itself cannot be done (Redis only). */
  dropLocalCopies?: (notice: PurgeNotice) => number;
  /** Hands the store the policy each entry is used under (the live rules), for stores that expire entries (Redis). */
  useEntryPolicy?: (policy: EntryPolicy) => void;
}

export type { EntryPolicy };

/**
 * The store the server runs on, from its config: the disk store, or Redis with `--store
 * redis://…` (shared by several nodes), with the memory tier in front of it unless
 * `--memory-size 0`. Wiring only: it sits beside app.ts so that store/ never reaches into the
 * proxy or the admin endpoints, whose pieces (cross-node collapsing, purge tags) it plugs in.
 */
export async function composeStore(
  config: Readonly<CacheServerConfig>,
  policy: Readonly<PolicyOptions>,
  logger: Logger,
  overrides: StoreOverrides = {},
): Promise<OpenedStore> {
  if (isRedisStore(config.store)) return openShared(config, policy, logger);
  const disk = await openDiskStore(config, logger, overrides);
  return { store: withMemoryTier(config, disk) ?? disk };
}

/** The disk store of `--cache-dir`, alone (a cluster's primary owns it: cluster/primary.ts). */
export function openDiskStore(
  config: Readonly<CacheServerConfig>,
  logger: Logger,
  overrides: StoreOverrides = {},
): Promise<DiskStore> {
  return DiskStore.open({
    dir: config.cacheDir,
    maxSize: config.maxSize,
    maxEntries: config.maxEntries,
    maxVariants: config.maxVariants,
    maxObjectSize: config.maxObjectSize,
    inactive: config.inactive,
    logger,
    ...overrides,
  });
}

/** The Redis store of `--store redis://…`, alone (a cluster's primary answers the admin endpoints with it). */
export async function openRedisStore(
  config: Readonly<CacheServerConfig>,
  policy: Readonly<PolicyOptions>,
  logger: Logger,
): Promise<RedisStore> {
  // Loaded only when asked for: ioredis costs start-up time every disk-store node would pay.
  const { RedisStore } = await import('./store/redis/redis-store.js');
  return RedisStore.open({
    url: config.store,
    maxSize: config.maxSize,
    maxObjectSize: config.maxObjectSize,
    policy,
    logger,
    gate: { timeoutMs: config.redisTimeout },
    metaTrustMs: config.redisMetaTrust,
    entryTags: (entry) => tagsOf(entry.headers, config.tagHeaders),
    prefix: `${config.redisPrefix}:v1:`,
    nodeId: config.nodeId,
    connection: redisTls(config),
  });
}

/**
 * Redis behind the memory tier, the tier kept in step with every other node's changes and
 * purges over the invalidation bus (store/redis/tier-sync.ts).
 */
async function openShared(
  config: Readonly<CacheServerConfig>,
  policy: Readonly<PolicyOptions>,
  logger: Logger,
): Promise<OpenedStore> {
  const redis = await openRedisStore(config, policy, logger);
  const tier = withMemoryTier(config, redis);
  const entryTags = (entry: EntryMeta) => tagsOf(entry.headers, config.tagHeaders);
  if (tier) syncTierWithBus(tier, redis.bus, entryTags);
  return {
    store: tier ?? redis,
    collapse: redis.locks,
    announcePurge: createPurgeAnnouncer(tier, redis.bus, entryTags),
    dropLocalCopies: (notice) => (tier ? dropPurgedCopies(tier, notice, entryTags) : 0),
    useEntryPolicy: (entryPolicy) => redis.useEntryPolicy(entryPolicy),
  };
}

/** The --redis-tls-* files, read once at start-up (none given: nothing beyond rediss://'s defaults). */
function redisTls(config: Readonly<CacheServerConfig>): ConnectionOptions {
  const { redisTlsCa: ca, redisTlsCert: cert, redisTlsKey: key, redisTlsServername: servername } = config;
  if (ca === '' && cert === '' && key === '' && servername === '') return {};
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`--${flag}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
        cause: error,
      });
    }
  };
  return {
    tls: {
      ...(ca !== '' ? { ca: read('redis-tls-ca', ca) } : {}),
      ...(cert !== '' ? { cert: read('redis-tls-cert', cert) } : {}),
      ...(key !== '' ? { key: read('redis-tls-key', key) } : {}),
      ...(servername !== '' ? { servername } : {}),
    },
  };
}

/** The memory tier in front of `inner`; undefined with `--memory-size 0`. */
export function withMemoryTier(config: Readonly<CacheServerConfig>, inner: InnerStore): MemoryTier | undefined {
  if (config.memorySize <= 0) return undefined;
  return new MemoryTier(inner, { maxSize: config.memorySize, maxObjectSize: config.memoryObjectSize });
}
