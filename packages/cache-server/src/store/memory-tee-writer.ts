import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { EntryWriter } from './store.js';

/**
 * An EntryWriter in front of another store's writer that keeps a copy of the bytes while they
 * pass, as long as the body stays within `limit`, and hands the whole body to `onCommitted`
 * once the inner writer has committed it. Every rule of the writer contract (abort, destroy,
 * commit's rejections, no temp files) is the inner writer's: this class only forwards.
 */
export class MemoryTeeWriter implements EntryWriter {
  readonly body: Writable;
  private chunks: Buffer[] | undefined = [];
  private bytes = 0;
  private committed: Promise<EntryMeta> | undefined;

  constructor(
    private readonly inner: EntryWriter,
    private readonly limit: number,
    private readonly onCommitted: (entry: EntryMeta, body: Buffer) => void,
  ) {
    const target = inner.body;
    this.body = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.keep(chunk);
        // Paced by the inner body. If the store closes it (too large, disk failure), the
        // 'close' handler below ends this stream too, with the store's error if there was one.
        target.write(chunk, (err) => callback(target.destroyed ? null : err));
      },
      final: (callback) => {
        if (target.destroyed) callback();
        else target.end(() => callback());
      },
      destroy: (err, callback) => {
        if (!target.destroyed) target.destroy(err ?? undefined);
        callback(err);
      },
    });
    target.once('close', () => {
      if (!target.writableFinished && !this.body.destroyed) this.body.destroy(target.errored ?? undefined);
    });
  }

  commit(): Promise<EntryMeta> {
    this.committed ??= this.runCommit();
    return this.committed;
  }

  abort(reason?: Error): void {
    this.chunks = undefined;
    this.inner.abort(reason);
    if (!this.body.destroyed) this.body.destroy();
  }

  private async runCommit(): Promise<EntryMeta> {
    if (!this.body.writableEnded && !this.body.destroyed) this.body.end();
    // Every byte has reached the inner writer (or the write failed: its commit says how).
    await finished(this.body).catch(() => undefined);
    const entry = await this.inner.commit();
    if (this.chunks !== undefined && this.bytes === entry.size) this.onCommitted(entry, Buffer.concat(this.chunks));
    this.chunks = undefined;
    return entry;
  }

  private keep(chunk: Buffer): void {
    if (this.chunks === undefined) return;
    this.bytes += chunk.length;
    if (this.bytes > this.limit) this.chunks = undefined;
    else this.chunks.push(chunk);
  }
}
