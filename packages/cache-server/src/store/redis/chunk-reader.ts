import { Readable } from 'node:stream';
import type { ByteRange } from '../store.js';
import { StoreError } from '../store-errors.js';
import { CHUNK_SIZE } from './redis-keys.js';

/** Fetches one chunk of the body; null when Redis no longer has it. */
export type FetchChunk = (index: number) => Promise<Buffer | null>;

/**
 * Streams `range` of a body of `size` bytes from its chunks, fetching the next chunk only when
 * the consumer wants more: one chunk in memory at a time, whatever the body's size. Each chunk
 * is checked against the length the body's size implies; a missing or wrong one ends the
 * stream with CACHE_ERR_ENTRY_GONE / CACHE_ERR_CORRUPT_ENTRY (and `onLost` is told, so the
 * store can drop the entry), never with bytes that look complete.
 */
export class ChunkReader extends Readable {
  private next: number;
  private readonly last: number;
  private fetching = false;

  constructor(
    private readonly fetch: FetchChunk,
    private readonly size: number,
    private readonly range: ByteRange,
    private readonly onLost: (error: StoreError) => void,
  ) {
    super();
    this.next = Math.floor(range.start / CHUNK_SIZE);
    this.last = Math.floor(range.end / CHUNK_SIZE);
  }

  override _read(): void {
    if (this.fetching) return;
    if (this.next > this.last) {
      this.push(null);
      return;
    }
    this.fetching = true;
    const index = this.next;
    this.fetch(index).then(
      (chunk) => {
        this.fetching = false;
        if (this.destroyed) return;
        const error = this.checkChunk(index, chunk);
        if (error !== undefined) {
          this.onLost(error);
          this.destroy(error);
          return;
        }
        this.next += 1;
        const offset = index * CHUNK_SIZE;
        const from = Math.max(this.range.start - offset, 0);
        const to = Math.min(this.range.end - offset + 1, CHUNK_SIZE);
        if (this.push(chunk!.subarray(from, to)) && this.next > this.last) this.push(null);
      },
      (err: unknown) => {
        this.fetching = false;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private checkChunk(index: number, chunk: Buffer | null): StoreError | undefined {
    if (chunk === null) return new StoreError('CACHE_ERR_ENTRY_GONE', `chunk ${index} of the body is gone`);
    const expected = Math.min(CHUNK_SIZE, this.size - index * CHUNK_SIZE);
    if (chunk.length !== expected) {
      return new StoreError(
        'CACHE_ERR_CORRUPT_ENTRY',
        `chunk ${index} has ${chunk.length} bytes, expected ${expected}`,
      );
    }
    return undefined;
  }
}
