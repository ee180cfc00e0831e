import type { Logger } from 'pino';
import type { PolicyOptions } from '../../policy/index.js';
import type { EntryPolicy } from './entry-lifetime.js';
import type { EntryTags } from './purge-record.js';
import type { RedisSettings } from './redis-context.js';
import type { ConnectionOptions } from './redis-connection.js';
import type { GateOptions } from './redis-gate.js';

/** What RedisStore.open() takes (redis-store.ts). */
export interface RedisStoreOptions extends Partial<RedisSettings> {
  /** `redis://host:port/db`, `rediss://…`, or a comma list of cluster seed nodes (see redis-url.ts). */
  url: string;
  /** Reported as `stats().maxSize`; Redis `maxmemory` is what really bounds the total. */
  maxSize: number;
  /** Largest body stored (CACHE_ERR_ENTRY_TOO_LARGE beyond); default and cap: `maxSize`. */
  maxObjectSize?: number;
  /**
   * The policy the proxy uses, or per entry the one it uses for that entry (with the operator's
   * rules): entry lifetimes in Redis follow its freshness and stale windows (entry-lifetime.ts).
   */
  policy: Readonly<PolicyOptions> | EntryPolicy;
  logger?: Logger;
  /** Key prefix (default `sc:v1:`): several caches may share one Redis with different prefixes. */
  prefix?: string;
  /** This node's name (--node-id): in the store's log lines and its invalidation messages' source. */
  nodeId?: string;
  revalidationMarginMs?: number;
  staleMarginMs?: number;
  connection?: ConnectionOptions;
  /** Reply timeout and probing of the circuit breakers (redis-gate.ts). */
  gate?: Partial<GateOptions>;
  /** The purge tags of an entry (`--tag-header`), so that a purge by tag is remembered (purge-record.ts). */
  entryTags?: EntryTags;
}
