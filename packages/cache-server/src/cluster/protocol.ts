import type { EntryMeta } from '@simple-cache/common';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { MemoryTierStats } from '../store/memory-tier.js';
import type { StoreStats } from '../store/store.js';
import type { TrafficTotals } from '../admin/telemetry.js';
import type { TrafficSeries } from '../admin/traffic-history.js';
import type { Use } from '../store/disk-replica.js';
import type { PurgeSelection } from '../admin/purge-entries.js';
import type { ListenAddresses } from '../listen/addresses.js';

/**
 * The messages between the primary and its workers (bus.ts carries them): one place that says
 * what each side may ask and tell, with the shape of what goes with it.
 */
export const OP = {
  // worker → primary, requests
  lookup: 'store.lookup',
  publish: 'store.publish',
  updateMeta: 'store.update-meta',
  remove: 'store.remove',
  entries: 'store.entries',
  acquire: 'collapse.acquire',
  release: 'collapse.release',
  follow: 'collapse.follow',
  admin: 'admin.request',
  // worker → primary, events
  uses: 'store.uses',
  writeBegin: 'write.begin',
  writeProgress: 'write.progress',
  writeEnd: 'write.end',
  listening: 'worker.listening',
  // primary → worker, events
  changed: 'store.changed',
  stats: 'store.stats',
  storeReady: 'store.ready',
  writeFollowed: 'write.followed',
  drain: 'worker.drain',
  reload: 'worker.reload',
  // primary → worker, requests
  /** SIGHUP: reopen the access log file (log rotation), whatever the config reload's result. */
  reopenLogs: 'worker.reopen-logs',
  report: 'worker.report',
  barrier: 'worker.barrier',
  purge: 'worker.purge',
} as const;

/** A worker listens: on which ports (the primary's ready line names them). */
export interface ListeningEvent {
  slot: number;
  pid: number;
  addresses: ListenAddresses;
}

export interface PublishArgs {
  meta: EntryMeta;
  tmpPath: string;
}

export interface RemoveArgs {
  key: string;
  variant?: string;
  /** Only the variant holding this body (a replica found it gone or corrupt). */
  bodyId?: string;
}

export interface ChangedEvent {
  key: string;
  variants: EntryMeta[];
  stats: StoreStats;
}

export interface AcquireArgs {
  key: string;
  ttlMs: number;
}

export interface ReleaseArgs {
  key: string;
  token: number;
}

export interface FollowArgs {
  key: string;
  timeoutMs: number;
}

/** What a worker that could not take a key's lock learns while it waits. */
export type FollowAnswer =
  | { outcome: 'released' }
  | { outcome: 'timeout' }
  /** The lock holder is writing the key's body: follow it (tail-reader.ts). */
  | { outcome: 'write'; writeId: string; tmpPath: string; entry: WrittenEntry; bytes: number };

/** The entry being written, as it will be stored (its body id and checksum come with the commit). */
export type WrittenEntry = Omit<EntryMeta, 'bodyId' | 'checksum'>;

export interface WriteBegin {
  writeId: string;
  key: string;
  variant: string;
  tmpPath: string;
  entry: WrittenEntry;
}

export interface WriteProgressEvent {
  writeId: string;
  bytes: number;
}

export interface WriteEnd {
  writeId: string;
  /** The committed entry, or null when the write was aborted or failed. */
  entry: EntryMeta | null;
}

export interface AdminRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string | undefined;
  /** Base64, when the request had a body. */
  body?: string;
}

export interface AdminAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  /** Base64. */
  body: string;
}

/** What a worker reports when the primary answers for the whole cache. */
export interface WorkerReport {
  slot: number;
  pid: number;
  startedAt: number;
  totals: TrafficTotals;
  history: TrafficSeries;
  inFlight: number;
  memory?: MemoryTierStats;
  rss: number;
  /** prom-client's JSON of the worker's registries (cache and process metrics). */
  metrics: MetricObjectWithValues<MetricValue<string>>[];
}

export interface UsesEvent {
  uses: Use[];
}

export interface PurgeArgs {
  notice: PurgeSelection;
  /** Before the store's purge: also abandon the fetches in flight for what it selects. */
  abandon?: boolean;
  /** A soft purge: what the fetches in flight for what it selects store is stored stale (nothing dropped). */
  soften?: boolean;
}
