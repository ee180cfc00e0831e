import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { StoreFs } from './store-fs.js';

/**
 * The `body` of a disk EntryWriter: streams into a fresh temp file, counting bytes and hashing
 * them on the way, and fsyncs and closes the file when the stream is ended — so once it emits
 * 'finish' the bytes are durable and the file can be renamed into place.
 *
 * A body that grows past `limit` (the largest object the store keeps) can never be stored: at
 * the first byte over it the stream destroys itself, without an error, so the write is aborted
 * at once (its temp file deleted: a huge pass-through response never fills the disk) while a
 * tee feeding it just drops it and keeps serving the client. `overLimit` tells why it closed.
 */
export class BodyFileWriter extends Writable {
  /** Bytes written to the stream, including the chunk that went over the limit. */
  bytes = 0;
  private readonly hash = createHash('sha1');
  private handle: FileHandle | undefined;

  constructor(
    private readonly fs: StoreFs,
    readonly path: string,
    private readonly limit: number,
  ) {
    super();
  }

  get overLimit(): boolean {
    return this.bytes > this.limit;
  }

  /** sha1 of the body in hex; only meaningful after 'finish' and when not over the limit. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  override _construct(callback: (error?: Error | null) => void): void {
    // 'wx': the name is random, so an existing file means something is badly wrong.
    this.fs.open(this.path, 'wx', 0o600).then((handle) => {
      this.handle = handle;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.overLimit) {
      callback();
      // On the next tick: chunks already buffered are then taken (and dropped) quietly, instead
      // of failing with "write after destroy" and making the close look like an I/O error.
      if (!this.destroyed) process.nextTick(() => this.destroy());
      return;
    }
    this.hash.update(chunk);
    writeFully(this.requireHandle(), chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.requireHandle();
    this.handle = undefined;
    handle
      .sync()
      .then(
        () => handle.close(),
        (err: unknown) => handle.close().then(() => Promise.reject(err)),
      )
      .then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  private requireHandle(): FileHandle {
    // _write and _final only run after _construct succeeded, and _final runs once.
    if (this.handle === undefined) throw new Error('body file is not open');
    return this.handle;
  }
}

async function writeFully(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
