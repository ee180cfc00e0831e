import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { LRUCache } from 'lru-cache';
import { pino, type Logger } from 'pino';
import { DiskHealth } from './disk-health.js';
import { openStoredBody, refuseWrite } from './disk-access.js';
import { ReplicaEntryWriter, type ReplicaWriterHost, type WriteProgress } from './disk-replica-writer.js';
import { createBodyId, createLayout, type Layout } from './layout.js';
import type { ByteRange, EntryWriter, Store, StoreHealth, StoreStats } from './store.js';
import { StoreError } from './store-errors.js';
import { nodeFs, type StoreFs } from './store-fs.js';

/** One use of a stored variant, as a replica reports it to the authority (batched). */
export interface Use {
  key: string;
  variant: string;
  bodyId: string;
  /** Times served since the last report. */
  hits: number;
  /** Wall clock (ms) of the last of them. */
  at: number;
}

/**
 * What a replica asks of the one process that owns the disk store (the cluster primary): every
 * change goes through it, so the store has one writer and one eviction authority.
 */
export interface StoreAuthority {
  /** Every stored variant of `key`, as the authority's index has it. */
  lookup(key: string): Promise<EntryMeta[]>;
  /** Makes a body staged in tmp/ visible as `meta`; resolves once every replica has been told. */
  publish(meta: EntryMeta, tmpPath: string): Promise<EntryMeta>;
  updateMeta(meta: EntryMeta): Promise<void>;
  /** Deletes one variant (or all), or only the variant holding `bodyId` when given. */
  remove(key: string, variant?: string, bodyId?: string): Promise<void>;
  /** Recency and hit counts for eviction and the entries listing (fire and forget). */
  reportUses(uses: Use[]): void;
  entries(): Promise<EntryMeta[]>;
  /** Tells the authority a write began, so another process can follow it; undefined: nobody can. */
  announceWrite?(write: { entry: Omit<EntryMeta, 'bodyId' | 'checksum'>; tmpPath: string }): WriteProgress | undefined;
}

export interface DiskReplicaOptions {
  /** The cache directory the authority's DiskStore uses. */
  dir: string;
  maxSize: number;
  maxObjectSize?: number;
  authority: StoreAuthority;
  logger?: Logger;
  fs?: StoreFs;
  now?: () => number;
  /** How often uses are reported (ms, default 1 s: recency has a one-second resolution anyway). */
  reportEvery?: number;
}

/** Keys looked up and found absent, remembered so that a repeated miss reads no file. */
const MAX_REMEMBERED_ABSENT = 10_000;

/**
 * A worker's view of a disk store that another process owns (docs/design.md, Workers): the same
 * directory and format as DiskStore, read directly, with every change going through the
 * authority.
 *
 * The index is a replica: a key is asked of the authority the first time it is looked up here
 * (one round trip; the meta files' format stays the authority's business), and from then on
 * kept current by `apply`, which the authority calls (over IPC) after every change of a key,
 * with all its variants. An answer that arrives after a change of its key is dropped, so the
 * replica never goes back to an older state: the channel is ordered, so the change is newer.
 * Keys found absent are remembered too (a bounded LRU), so a repeated miss asks nothing. Bodies
 * are read from body/ directly (ids are never reused, so the file's bytes never change); writes
 * stream into tmp/ here and the authority publishes them.
 */
export class DiskReplica implements Store {
  readonly maxObjectSize: number;
  private readonly layout: Layout;
  private readonly fs: StoreFs;
  private readonly logger: Logger;
  private readonly authority: StoreAuthority;
  private readonly known = new Map<string, EntryMeta[]>();
  private readonly absent = new LRUCache<string, true>({ max: MAX_REMEMBERED_ABSENT });
  private readonly loading = new Map<string, { superseded: boolean; done: Promise<EntryMeta[]> }>();
  private readonly removedListeners = new Set<(bodyId: string) => void>();
  private readonly writers = new Set<ReplicaEntryWriter>();
  private readonly writerHost: ReplicaWriterHost;
  private readonly diskHealth: DiskHealth;
  private uses = new Map<string, Use>();
  private readonly reportTimer: NodeJS.Timeout;
  private currentStats: StoreStats;
  private readonly scanned: Promise<void>;
  private markScanned: () => void = () => undefined;
  private closed = false;

  constructor(options: DiskReplicaOptions) {
    this.layout = createLayout(resolve(options.dir));
    this.fs = options.fs ?? nodeFs;
    this.logger = (options.logger ?? pino({ enabled: false })).child({ module: 'disk-replica' });
    this.authority = options.authority;
    this.maxObjectSize = Math.min(options.maxSize, options.maxObjectSize ?? options.maxSize);
    this.currentStats = { entries: 0, size: 0, maxSize: options.maxSize, evictions: 0 };
    this.scanned = new Promise((resolve) => (this.markScanned = resolve));
    this.diskHealth = new DiskHealth({
      logger: this.logger,
      now: options.now ?? Date.now,
      dir: this.layout.root,
      retryDelay: 1000,
      maxRetryDelay: 30_000,
    });
    this.writerHost = {
      fs: this.fs,
      maxObjectSize: this.maxObjectSize,
      noteFailure: (err) => this.diskHealth.noteFailure(err),
      publish: async (meta, tmpPath) => {
        try {
          const entry = await this.authority.publish(meta, tmpPath);
          this.diskHealth.noteSuccess();
          return entry;
        } catch (err) {
          this.diskHealth.noteFailure(err);
          throw err;
        }
      },
      release: (writer) => this.writers.delete(writer),
    };
    this.reportTimer = setInterval(() => this.reportUses(), options.reportEvery ?? 1000);
    this.reportTimer.unref();
  }

  /**
   * The authority's word on `key`: it now has exactly `variants`. Called in the order the
   * changes happened; bodies no variant references any more are reported as removed.
   */
  apply(key: string, variants: readonly EntryMeta[], stats?: StoreStats): void {
    if (stats) this.currentStats = stats;
    const load = this.loading.get(key);
    if (load) load.superseded = true;
    const before = this.known.get(key);
    if (variants.length === 0) {
      this.known.delete(key);
      this.absent.set(key, true);
    } else {
      this.known.set(
        key,
        variants.map((entry) => structuredClone(entry)),
      );
      this.absent.delete(key);
    }
    if (before === undefined) return;
    const kept = new Set(variants.map((entry) => entry.bodyId));
    for (const entry of before) {
      if (!kept.has(entry.bodyId)) for (const listener of this.removedListeners) listener(entry.bodyId);
    }
  }

  /** The authority's figures (entries, size, evictions), sent with its changes. */
  setStats(stats: StoreStats): void {
    this.currentStats = stats;
  }

  /** The authority has loaded its whole index (its start-up scan is done). */
  markReady(): void {
    this.markScanned();
  }

  ready(): Promise<void> {
    return this.scanned;
  }

  async lookup(key: string): Promise<EntryMeta[]> {
    this.assertOpen();
    const variants = this.known.get(key) ?? (this.absent.has(key) ? [] : await this.load(key));
    return variants.map((entry) => structuredClone(entry));
  }

  lookupSync(key: string): EntryMeta[] | undefined {
    return this.peekSync(key)?.map((entry) => structuredClone(entry) as EntryMeta);
  }

  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined {
    this.assertOpen();
    return this.known.get(key) ?? (this.absent.has(key) ? [] : undefined);
  }

  openBody(entry: EntryMeta, range?: ByteRange): Promise<Readable> {
    this.assertOpen();
    // Gone may only mean this replica has not heard of the replacement yet: the authority deletes
    // the entry only if it still holds this very body.
    return openStoredBody(this.fs, this.layout, entry, range, this.logger, (gone) =>
      this.authority.remove(gone.key, gone.variant, gone.bodyId),
    );
  }

  beginWrite(meta: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter {
    const refused = refuseWrite(this.closed, meta.size, this.maxObjectSize, this.diskHealth);
    if (refused) return refused;
    const { bodyId: _bodyId, checksum: _checksum, ...rest } = structuredClone(meta) as EntryMeta;
    const tmpPath = stagedPath(this.layout);
    const progress = this.authority.announceWrite?.({ entry: rest, tmpPath });
    const writer = new ReplicaEntryWriter(this.writerHost, { ...rest, bodyId: createBodyId() }, tmpPath, progress);
    this.writers.add(writer);
    return writer;
  }

  /** Counted here at once (this worker's lookups show it) and reported to the authority in batches. */
  markUsed(entry: EntryMeta, at?: number): void {
    if (this.closed) return;
    const now = at ?? Date.now();
    const use = this.uses.get(entry.bodyId);
    if (use) {
      use.hits += 1;
      use.at = now;
    } else {
      this.uses.set(entry.bodyId, { key: entry.key, variant: entry.variant, bodyId: entry.bodyId, hits: 1, at: now });
    }
    const known = this.known.get(entry.key)?.find((stored) => stored.bodyId === entry.bodyId);
    if (known) {
      known.hits = (known.hits ?? 0) + 1;
      known.lastAccess = now;
    }
  }

  /** Sends the uses gathered since the last report (also before the authority answers for the whole cache). */
  reportUses(): void {
    if (this.uses.size === 0) return;
    const uses = [...this.uses.values()];
    this.uses = new Map();
    this.authority.reportUses(uses);
  }

  updateMeta(meta: EntryMeta): Promise<void> {
    this.assertOpen();
    return this.authority.updateMeta(meta);
  }

  delete(key: string, variant?: string): Promise<void> {
    this.assertOpen();
    return this.authority.remove(key, variant);
  }

  async *entries(): AsyncIterable<EntryMeta> {
    this.assertOpen();
    for (const entry of await this.authority.entries()) yield entry;
  }

  stats(): StoreStats {
    return { ...this.currentStats };
  }

  onBodyRemoved(listener: (bodyId: string) => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  health(): StoreHealth {
    return this.diskHealth.snapshot();
  }

  /** Reports the last uses, aborts writes not yet committing and waits for the others. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reportTimer);
    this.reportUses();
    const closedError = new StoreError('CACHE_ERR_STORE_CLOSED', 'the store was closed');
    for (const writer of this.writers) if (!writer.isCommitting) writer.abort(closedError);
    await Promise.all([...this.writers].map((writer) => writer.settled()));
  }

  /** Asks the authority for `key`; kept unless a change of the key arrived meanwhile. */
  private load(key: string): Promise<EntryMeta[]> {
    const pending = this.loading.get(key);
    if (pending) return pending.done;
    const load = { superseded: false, done: Promise.resolve<EntryMeta[]>([]) };
    load.done = (async () => {
      try {
        const variants = await this.authority.lookup(key);
        // The answer left the authority after every change sent before it (the channel is
        // ordered), but a change sent after it may have been applied first: that one is newer.
        if (load.superseded) return this.known.get(key) ?? [];
        if (variants.length > 0) this.known.set(key, variants);
        else this.absent.set(key, true);
        return variants;
      } finally {
        this.loading.delete(key);
      }
    })();
    this.loading.set(key, load);
    return load.done;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('CACHE_ERR_STORE_CLOSED', 'the store is closed');
  }
}

/**
 * A temp file name that says which process writes it (`<pid>-<random>.body`): when a worker
 * dies, the authority deletes exactly its files.
 */
function stagedPath(layout: Layout): string {
  return join(layout.tmpDir, `${process.pid}-${randomBytes(16).toString('hex')}.body`);
}
