import { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { StoreError } from '../store-errors.js';
import { CHUNKS_PER_FETCH, type FetchChunks } from './chunk-reader.js';
import { CHUNK_SIZE, chunkCount } from './redis-keys.js';

/** Where another node's write of a body stands, read in one step (lock.ts's WRITE_STATE). */
export interface WriteState {
  /** The writer still holds the key's lock: its fetch goes on. */
  writing: boolean;
  /** The entry, once the variant holds this body (committed). */
  committed: EntryMeta | undefined;
  /** Chunks the body has in Redis now. */
  chunks: number;
  /** Whether chunk `next` (the one asked about) is there now. */
  hasNext: boolean;
}

export type ReadWriteState = (next: number) => Promise<WriteState>;

export interface FollowOptions {
  /** First pause while no new chunk has landed; it doubles up to `maxPollMs`, and resets once one lands. */
  firstPollMs?: number;
  maxPollMs?: number;
  /** Calls its argument when something about the write may have changed (a commit announced on the bus). */
  onWake?: (wake: () => void) => () => void;
}

const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 50;

/**
 * A body that another node is writing into Redis, read as its chunks land (the Redis
 * counterpart of cluster/tail-reader.ts: the lock holder's write, followed by a node that could
 * not take the lock). Chunks are read with HMGET, CHUNKS_PER_FETCH at a time; when the next
 * chunk is not there yet, the write's state is asked for (lock, commit, chunk count), with a
 * pause that starts at a few ms and doubles up to `maxPollMs` (a commit announced on the bus
 * wakes it at once), so a stalled origin costs Redis a few small calls a second.
 *
 * It ends only once the commit is seen, with exactly the committed size, and fails otherwise —
 * the writer's lock went without a commit (its node died, its origin cut the body, the body was
 * not storable after all), a chunk it had written is gone (evicted), Redis failed — so a
 * follower never hands out a body that looks complete when it is not. No read is sent while the
 * consumer does not want more (back-pressure): it holds one request's chunks at most.
 */
export class ChunkFollower extends Readable {
  /** The committed entry once this stream has delivered all of it; undefined when it failed. */
  readonly committed: Promise<EntryMeta | undefined>;
  private settle: (entry: EntryMeta | undefined) => void = () => undefined;
  private next = 0;
  private delivered = 0;
  /** Set when a chunk shorter than CHUNK_SIZE came: the body's last one. */
  private sawLast = false;
  private entry: EntryMeta | undefined;
  private pumping = false;
  private pauseMs: number;
  private readonly firstPollMs: number;
  private readonly maxPollMs: number;
  private wake: (() => void) | undefined;
  private readonly stopWaking: () => void;

  constructor(
    private readonly fetch: FetchChunks,
    private readonly readState: ReadWriteState,
    /** The size the writer announced (Content-Length), or -1 when unknown until the commit. */
    private readonly announced: number,
    options: FollowOptions = {},
  ) {
    super({ highWaterMark: CHUNKS_PER_FETCH * CHUNK_SIZE });
    this.firstPollMs = options.firstPollMs ?? FIRST_POLL_MS;
    this.maxPollMs = options.maxPollMs ?? MAX_POLL_MS;
    this.pauseMs = this.firstPollMs;
    this.committed = new Promise((resolve) => (this.settle = resolve));
    this.stopWaking = options.onWake?.(() => this.wake?.()) ?? (() => undefined);
  }

  override _read(): void {
    void this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopWaking();
    this.wake?.();
    this.settle(undefined);
    callback(error);
  }

  /** The chunks there are, in order, until the consumer has enough, the body ends or fails. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.destroyed) {
        const size = this.entry?.size ?? (this.announced >= 0 ? this.announced : undefined);
        const last = size === undefined ? Infinity : chunkCount(size);
        if (this.entry !== undefined && this.next >= last) return this.finish(this.entry);
        if (this.next >= last || this.sawLast) {
          // Every byte is here: only the commit is still to come.
          if (!(await this.awaitChange())) return;
          continue;
        }
        const count = Math.min(CHUNKS_PER_FETCH, last - this.next);
        const chunks = await this.fetch(this.next, count);
        if (this.destroyed) return;
        const landed = this.pushLanded(chunks, size);
        if (landed === 'failed') return;
        if (landed === count) {
          this.pauseMs = this.firstPollMs;
          if (this.readableLength >= this.readableHighWaterMark) return;
          continue;
        }
        if (landed > 0) this.pauseMs = this.firstPollMs;
        if (this.entry !== undefined) return this.fail(gone(this.next));
        if (!(await this.awaitChange())) return;
      }
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.pumping = false;
    }
  }

  /** Pushes the leading chunks that are there; how many, or 'failed'. */
  private pushLanded(chunks: (Buffer | null)[], size: number | undefined): number | 'failed' {
    let landed = 0;
    for (const chunk of chunks) {
      if (chunk === null) break;
      const index = this.next;
      const expected = size === undefined ? CHUNK_SIZE : Math.min(CHUNK_SIZE, size - index * CHUNK_SIZE);
      if (chunk.length > expected || (size !== undefined && chunk.length !== expected)) {
        this.fail(new StoreError('CACHE_ERR_CORRUPT_ENTRY', `chunk ${index} has ${chunk.length} bytes`));
        return 'failed';
      }
      this.next += 1;
      this.delivered += chunk.length;
      landed += 1;
      this.push(chunk);
      if (chunk.length < CHUNK_SIZE) {
        this.sawLast = true;
        break;
      }
    }
    // Chunks are written in order: one missing before one that is there was lost.
    if (chunks.slice(landed).some((chunk) => chunk !== null) && !this.sawLast) {
      this.fail(gone(this.next));
      return 'failed';
    }
    return landed;
  }

  /**
   * Waits until the next chunk is there, the write is committed (true), or fails the stream when
   * the write ended without a commit or lost chunks (false).
   */
  private async awaitChange(): Promise<boolean> {
    for (;;) {
      const state = await this.readState(this.next);
      if (this.destroyed) return false;
      if (state.committed !== undefined) return this.noteCommit(state.committed);
      if (state.hasNext) return true;
      if (!state.writing) {
        this.fail(
          new StoreError(
            'CACHE_ERR_WRITE_ABORTED',
            'the write this response followed ended without being stored (its node failed or gave it up)',
          ),
        );
        return false;
      }
      // Chunks 0..next-1 are there and no other: anything else means some were evicted.
      if (state.chunks !== this.next) {
        this.fail(gone(this.next));
        return false;
      }
      await this.sleep();
      if (this.destroyed) return false;
    }
  }

  private noteCommit(entry: EntryMeta): boolean {
    if (this.delivered > entry.size || (this.announced >= 0 && entry.size !== this.announced)) {
      this.fail(new StoreError('CACHE_ERR_CORRUPT_ENTRY', `committed ${entry.size} bytes, read ${this.delivered}`));
      return false;
    }
    this.entry = entry;
    return true;
  }

  private finish(entry: EntryMeta): void {
    if (this.delivered !== entry.size) {
      return this.fail(
        new StoreError('CACHE_ERR_CORRUPT_ENTRY', `committed ${entry.size} bytes, read ${this.delivered}`),
      );
    }
    this.stopWaking();
    this.push(null);
    this.settle(entry);
  }

  private fail(error: StoreError): void {
    this.destroy(error);
  }

  private sleep(): Promise<void> {
    const ms = this.pauseMs;
    this.pauseMs = Math.min(this.pauseMs * 2, this.maxPollMs);
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

function gone(index: number): StoreError {
  return new StoreError('CACHE_ERR_ENTRY_GONE', `chunk ${index} of the body being written is gone from Redis`);
}
