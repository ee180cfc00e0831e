import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { EntryWriter } from './store.js';
import { StoreError } from './store-errors.js';

/** What the shared life cycle needs from a store's body stream. */
export interface StagedBody extends Writable {
  readonly bytes: number;
  /** More bytes arrived than the store keeps; the body dropped them. */
  readonly overLimit: boolean;
  /** The store's backend failed while the body streamed (checked before `errored`). */
  readonly failure?: Error | undefined;
  digest(): string;
}

type State = 'open' | 'committing' | 'done';

/**
 * The life cycle shared by the disk and Redis writers: the body streams into staging (a temp
 * file, unreferenced chunks) that only publish() makes visible.
 *
 *   open ──commit()──▶ committing ──▶ done (visible, or rejected and its staging deleted)
 *     └──abort() / body destroyed / body failed──▶ done (staging deleted)
 *
 * Every failure ends in a rejected commit() — never a synchronous throw, never an unhandled
 * 'error' event (the writer listens on `body` itself, so a failing backend cannot crash the
 * process when the caller forgot to) — and never leaves staged data or a visible partial entry.
 * Subclasses say how to publish, delete staging, report failures and tell their store they are done.
 */
export abstract class StagedEntryWriter<Body extends StagedBody> implements EntryWriter {
  private state: State = 'open';
  private abortReason: Error | undefined;
  private committed: Promise<EntryMeta> | undefined;
  private discarded: Promise<void> | undefined;

  constructor(
    readonly body: Body,
    protected readonly meta: Omit<EntryMeta, 'checksum'>,
    private readonly maxObjectSize: number,
  ) {
    // The error itself resurfaces from commit(); this listener only keeps it from crashing.
    body.on('error', (err) => this.noteFailure(err));
    body.on('close', () => {
      // A body that finished normally waits for commit() or abort(); anything else is an abort.
      if (this.state === 'open' && !body.writableFinished) this.cancel(this.closeReason());
    });
  }

  /** Makes the verified body visible as `meta`; `isAborted` is the last moment an abort can win. */
  protected abstract publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta>;
  /** Deletes the staged body once the stream has closed. Never rejects. */
  protected abstract discardStaged(): Promise<void>;
  /** Tells the store this write is done (committed, failed or aborted) and its staging handled. */
  protected abstract release(): void;
  /** An error stopped the write (the body failed, or the commit did). */
  protected noteFailure(_err: unknown): void {}

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

  /** Resolves when the write is visible or its staging is gone; what the store's close() waits for. */
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
      void this.discard().finally(() => this.release());
    }
  }

  private async runCommit(): Promise<EntryMeta> {
    if (this.state !== 'open') {
      // Aborted already: reject once the staging is gone, so "rejected" means "cleaned up".
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
      return await this.publish(meta, () => this.abortReason !== undefined);
    } catch (err) {
      this.noteFailure(err);
      await this.discard();
      throw this.abortReason ?? err;
    } finally {
      this.state = 'done';
      this.release();
    }
  }

  /** The stored metadata, once the body's length has been checked against the announced one. */
  private finalMeta(): EntryMeta {
    const { bytes } = this.body;
    if (this.body.overLimit) throw this.tooLarge();
    if (this.body.failure !== undefined) throw this.body.failure;
    if (this.meta.size >= 0 && bytes !== this.meta.size) {
      throw new StoreError('CACHE_ERR_SIZE_MISMATCH', `expected ${this.meta.size} body bytes, got ${bytes}`);
    }
    return { ...this.meta, size: bytes, checksum: this.body.digest() };
  }

  /** Why the body closed before it finished: too many bytes, a backend failure, or someone destroyed it. */
  private closeReason(): Error {
    if (this.body.overLimit) return this.tooLarge();
    if (this.body.failure !== undefined) return this.body.failure;
    if (this.body.errored) return this.body.errored;
    return new StoreError('CACHE_ERR_WRITE_ABORTED', 'the body stream was destroyed');
  }

  private tooLarge(): StoreError {
    return new StoreError(
      'CACHE_ERR_ENTRY_TOO_LARGE',
      `body of more than ${this.maxObjectSize} bytes exceeds the largest object the store keeps`,
    );
  }

  private abortError(): Error {
    return this.abortReason ?? new StoreError('CACHE_ERR_WRITE_ABORTED', 'the write was aborted');
  }

  /** Deletes the staging — after the body has closed, or a late write could recreate it. */
  private discard(): Promise<void> {
    this.discarded ??= (async () => {
      if (!this.body.closed) {
        this.body.destroy();
        await finished(this.body).catch(() => undefined);
      }
      await this.discardStaged();
    })();
    return this.discarded;
  }
}
