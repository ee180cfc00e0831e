import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Bytes read at a time: as the body file streams of the store (store/body-file-stream.ts). */
const READ_CHUNK_BYTES = 128 * 1024;

/**
 * A body that another process is writing, read as it grows: the bytes up to what the writer
 * has reported as written (`grow`), until the writer says how it ended (`end`). It ends with
 * exactly the committed size, or fails when the write failed: a follower never hands out a
 * body that looks complete when it is not. The open descriptor keeps the bytes readable after
 * the writer renames the file into place (or deletes it).
 */
export class TailReader extends Readable {
  private position = 0;
  private available: number;
  /** The committed size once the write has ended well. */
  private size: number | undefined;
  private waiting = false;
  private reading = false;

  constructor(
    private readonly handle: FileHandle,
    written: number,
  ) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.available = written;
  }

  /** The writer has this many bytes in the file now. */
  grow(bytes: number): void {
    if (bytes <= this.available) return;
    this.available = bytes;
    this.wake();
  }

  /** The write is over: committed with `size` bytes, or failed (undefined). */
  end(size: number | undefined): void {
    if (this.destroyed || this.size !== undefined) return;
    if (size === undefined) {
      this.destroy(new Error('the write this response followed failed'));
      return;
    }
    this.size = size;
    this.available = Math.max(this.available, size);
    this.wake();
  }

  override _read(): void {
    if (this.reading) return;
    const end = this.size ?? this.available;
    if (this.size !== undefined && this.position >= this.size) {
      this.push(null);
      return;
    }
    if (this.position >= end) {
      this.waiting = true;
      return;
    }
    const length = Math.min(READ_CHUNK_BYTES, end - this.position);
    const buffer = Buffer.allocUnsafeSlow(length);
    this.reading = true;
    this.handle.read(buffer, 0, length, this.position).then(
      ({ bytesRead }) => {
        this.reading = false;
        if (this.destroyed) return;
        if (bytesRead === 0) return void this.destroy(new Error('the followed body file shrank'));
        this.position += bytesRead;
        this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
      },
      (error: Error) => {
        this.reading = false;
        this.destroy(error);
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }

  private wake(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this._read();
  }
}
