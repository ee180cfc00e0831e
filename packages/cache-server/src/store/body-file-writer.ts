import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/**
 * The `body` of a disk EntryWriter: streams into a fresh temp file, counting bytes and hashing
 * them on the way, and fsyncs and closes the file when the stream is ended — so once it emits
 * 'finish' the bytes are durable and the file can be renamed into place.
 *
 * Bytes beyond `limit` (the store's maxSize) are counted but no longer written: such a body
 * can never be stored, yet failing the stream would also break whatever tees into it (the
 * response to the client), so the writer lets commit() reject instead.
 */
export class BodyFileWriter extends Writable {
  /** Bytes written to the stream, including any not stored because of the limit. */
  bytes = 0;
  private readonly hash = createHash('sha1');
  private handle: FileHandle | undefined;

  constructor(
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
    open(this.path, 'wx', 0o600).then((handle) => {
      this.handle = handle;
      callback();
    }, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (this.overLimit) {
      callback();
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
