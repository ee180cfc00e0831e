import { finished } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import { BodyFileWriter } from './body-file-writer.js';
import { unlinkQuietly } from './fs-utils.js';
import type { EntryWriter } from './store.js';
import { StoreError } from './store-errors.js';
import type { StoreFs } from './store-fs.js';

/** What a writer needs from its store (DiskStore implements it). */
export interface WriterHost {
  readonly fs: StoreFs;
  /** The largest body stored (the smaller of the store's maxSize and maxObjectSize). */
  readonly maxObjectSize: number;
  /** An I/O error stopped the write (DiskStore's degraded mode listens). */
  noteFailure(err: unknown): void;
  /**
   * Makes a finished body visible: moves `tmpPath` into place and records `meta`. Calls
   * `isAborted` once it holds the key's lock, the last moment an abort can still win.
   */
  publish(meta: EntryMeta, tmpPath: string, isAborted: () => boolean): Promise<EntryMeta>;
  /** The writer is done (committed, failed or aborted) and its temp file handled. */
  release(writer: DiskEntryWriter): void;
}

type State = 'open' | 'committing' | 'done';

/**
 * One write into the disk store. Life cycle:
 *
 *   open ──commit()──▶ committing ──▶ done (visible, or rejected and cleaned up)
 *     └──abort() / body destroyed / body failed──▶ done (temp file deleted)
 *
 * Every failure ends in a rejected commit() — never a synchronous throw, never an unhandled
 * 'error' event (the writer listens on `body` itself, so a full disk cannot crash the process
 * when the caller forgot to) — and never leaves a temp file or a visible partial entry.
 */
export class DiskEntryWriter implements EntryWriter {
  readonly body: BodyFileWriter;
  private state: State = 'open';
  private abortReason: Error | undefined;
  private committed: Promise<EntryMeta> | undefined;
  private discarded: Promise<void> | undefined;

  constructor(
    private readonly host: WriterHost,
    private readonly meta: Omit<EntryMeta, 'checksum'>,
    tmpPath: string,
  ) {
    this.body = new BodyFileWriter(host.fs, tmpPath, host.maxObjectSize);
    // The error itself resurfaces from commit(); this listener only keeps it from crashing.
    this.body.on('error', (err) => host.noteFailure(err));
    this.body.on('close', () => {
      // A body that finished normally waits for commit() or abort(); anything else is an abort.
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

  /** True once commit() has been called (abort() then only wins until the entry is visible). */
  get isCommitting(): boolean {
    return this.state === 'committing';
  }

  /** Resolves when the temp file is gone; what close() waits for. */
  settled(): Promise<void> {
    return (this.committed?.then(() => undefined) ?? this.discarded ?? Promise.resolve()).catch(() => undefined);
  }

  /** Ends the write with `error` as commit()'s rejection, unless it is already settled. */
  private cancel(error: Error): void {
    if (this.state === 'done' || this.abortReason !== undefined) return;
    this.abortReason = error;
    this.body.destroy();
    // While committing, runCommit notices the abort and cleans up itself.
    if (this.state === 'open') {
      this.state = 'done';
      void this.discard().finally(() => this.host.release(this));
    }
  }

  private async runCommit(): Promise<EntryMeta> {
    if (this.state !== 'open') {
      // Aborted already: reject once the temp file is gone, so "rejected" means "cleaned up".
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
      return await this.host.publish(meta, this.body.path, () => this.abortReason !== undefined);
    } catch (err) {
      this.host.noteFailure(err);
      await this.discard();
      throw this.abortReason ?? err;
    } finally {
      this.state = 'done';
      this.host.release(this);
    }
  }

  /** The stored metadata, once the body's length has been checked against the announced one. */
  private finalMeta(): EntryMeta {
    const { bytes } = this.body;
    if (this.body.overLimit) throw this.tooLarge();
    if (this.meta.size >= 0 && bytes !== this.meta.size) {
      throw new StoreError('CACHE_ERR_SIZE_MISMATCH', `expected ${this.meta.size} body bytes, got ${bytes}`);
    }
    return { ...this.meta, size: bytes, checksum: this.body.digest() };
  }

  /** Why the body closed before it finished: an I/O error, too many bytes, or someone destroyed it. */
  private closeReason(): Error {
    if (this.body.overLimit) return this.tooLarge();
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

  /**
   * Deletes the temp file — after the body has closed it, or a late open could recreate it.
   * Never rejects.
   */
  private discard(): Promise<void> {
    this.discarded ??= (async () => {
      if (!this.body.closed) {
        this.body.destroy();
        await finished(this.body).catch(() => undefined);
      }
      // If even that fails, close() and the next open() empty tmp/ anyway.
      await unlinkQuietly(this.host.fs, this.body.path).catch(() => undefined);
    })();
    return this.discarded;
  }
}
