import { finished } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { EntryWriter } from '../store.js';
import { StoreError } from '../store-errors.js';
import { ChunkWriter } from './chunk-writer.js';

/** What a writer needs from its store (RedisStore implements it). */
export interface RedisWriterHost {
  /** The largest body stored. */
  readonly maxObjectSize: number;
  writeChunk(meta: EntryMeta, index: number, bytes: Buffer): Promise<void>;
  /** Deletes the chunks written so far; never rejects (they expire by themselves anyway). */
  discardBody(meta: EntryMeta): Promise<void>;
  /** Makes a complete body visible (one atomic script); rejects if Redis finds it incomplete. */
  publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta>;
  release(writer: RedisEntryWriter): void;
}

type State = 'open' | 'committing' | 'done';

/**
 * One write into the Redis store, with the disk writer's life cycle:
 *
 *   open ──commit()──▶ committing ──▶ done (visible, or rejected and its chunks deleted)
 *     └──abort() / body destroyed──▶ done (chunks deleted)
 *
 * Chunks go to Redis under a fresh body id while the body streams; nothing points at them
 * until the commit script has checked that all of them are there. Every failure ends in a
 * rejected commit(), never a synchronous throw or an unhandled 'error' event.
 */
export class RedisEntryWriter implements EntryWriter {
  readonly body: ChunkWriter;
  private state: State = 'open';
  private abortReason: Error | undefined;
  private committed: Promise<EntryMeta> | undefined;
  private discarded: Promise<void> | undefined;

  constructor(
    private readonly host: RedisWriterHost,
    private readonly meta: Omit<EntryMeta, 'checksum'>,
  ) {
    const stored = meta as EntryMeta;
    this.body = new ChunkWriter((index, bytes) => host.writeChunk(stored, index, bytes), host.maxObjectSize);
    // The error itself resurfaces from commit(); this listener only keeps it from crashing.
    this.body.on('error', () => undefined);
    this.body.on('close', () => {
      if (this.state === 'open' && !this.body.writableFinished) this.cancel(this.closeReason());
    });
  }

  commit(): Promise<EntryMeta> {
    this.committed ??= this.runCommit();
    return this.committed;
  }

  abort(reason?: Error): void {
    this.cancel(new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted', { cause: reason }));
  }

  get isCommitting(): boolean {
    return this.state === 'committing';
  }

  /** Resolves when the write is visible or its chunks are gone; what close() waits for. */
  settled(): Promise<void> {
    return (this.committed?.then(() => undefined) ?? this.discarded ?? Promise.resolve()).catch(() => undefined);
  }

  private cancel(error: Error): void {
    if (this.state === 'done' || this.abortReason !== undefined) return;
    this.abortReason = error;
    this.body.destroy();
    if (this.state === 'open') {
      this.state = 'done';
      void this.discard().finally(() => this.host.release(this));
    }
  }

  private async runCommit(): Promise<EntryMeta> {
    if (this.state !== 'open') {
      await this.discarded;
      throw this.abortError();
    }
    this.state = 'committing';
    try {
      if (!this.body.writableEnded) this.body.end();
      await finished(this.body).catch((err: unknown) => {
        throw this.abortReason ?? this.body.errored ?? err;
      });
      const meta = this.finalMeta();
      if (this.abortReason !== undefined) throw this.abortError();
      return await this.host.publish(meta, () => this.abortReason !== undefined);
    } catch (err) {
      await this.discard();
      throw this.abortReason ?? err;
    } finally {
      this.state = 'done';
      this.host.release(this);
    }
  }

  private finalMeta(): EntryMeta {
    const { bytes } = this.body;
    if (this.body.overLimit) throw this.tooLarge();
    if (this.body.failure !== undefined) throw this.body.failure;
    if (this.meta.size >= 0 && bytes !== this.meta.size) {
      throw new StoreError('CACHE_ERR_SIZE_MISMATCH', `expected ${this.meta.size} body bytes, got ${bytes}`);
    }
    return { ...this.meta, size: bytes, checksum: this.body.digest() };
  }

  /** Why the body closed before it finished: too many bytes, Redis failed, or someone destroyed it. */
  private closeReason(): Error {
    if (this.body.overLimit) return this.tooLarge();
    if (this.body.failure !== undefined) return this.body.failure;
    if (this.body.errored) return this.body.errored;
    return new StoreError('CACHE_ERR_WRITE_ABORTED', 'the body stream was destroyed');
  }

  private tooLarge(): StoreError {
    return new StoreError(
      'CACHE_ERR_ENTRY_TOO_LARGE',
      `body of more than ${this.host.maxObjectSize} bytes exceeds the largest object the store keeps`,
    );
  }

  private abortError(): Error {
    return this.abortReason ?? new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
  }

  /** Deletes the chunks once no send is in flight (a late chunk would recreate the key). */
  private discard(): Promise<void> {
    this.discarded ??= (async () => {
      if (!this.body.closed) {
        this.body.destroy();
        await finished(this.body).catch(() => undefined);
      }
      await this.body.idle();
      await this.host.discardBody(this.meta as EntryMeta);
    })();
    return this.discarded;
  }
}
