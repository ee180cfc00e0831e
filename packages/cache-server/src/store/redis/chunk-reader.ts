import { Readable } from 'node:stream';
import type { ByteRange } from '../store.js';
import { StoreError } from '../store-errors.js';
import { CHUNK_SIZE } from './redis-keys.js';

/** Fetches `count` chunks from `first` on, in one request; null for each one Redis no longer has. */
export type FetchChunks = (first: number, count: number) => Promise<(Buffer | null)[]>;

/** Chunks asked for in one request (HMGET): 1 MiB per reply. */
export const CHUNKS_PER_FETCH = 4;
/** Requests in flight at once: Redis sends the next reply while this process handles one. */
export const READ_AHEAD = 2;

/**
 * Streams `range` of a body of `size` bytes from its chunks, CHUNKS_PER_FETCH chunks per request
 * and READ_AHEAD requests pipelined on the connection (one chunk per round trip capped a large
 * body at a fifth of what the connection carries): when an answer arrives the next request
 * leaves before its chunks are pushed. No request is sent while the consumer does not want
 * more, so at most READ_AHEAD requests and one answer being consumed (3 MiB) are in memory
 * whatever the body's size. Each chunk is checked against the length the body's size implies;
 * a missing or wrong one ends the stream with CACHE_ERR_ENTRY_GONE / CACHE_ERR_CORRUPT_ENTRY (and
 * `onLost` is told with the body offset reached, so the store can log it and drop the entry),
 * never with bytes that look complete (F13: a reader whose chunks vanish fails loudly).
 */
export class ChunkReader extends Readable {
  private nextFetch: number;
  private nextPush: number;
  private readonly last: number;
  private readonly inFlight: { first: number; chunks: Promise<(Buffer | null)[]> }[] = [];
  private pushing = false;

  constructor(
    private readonly fetch: FetchChunks,
    private readonly size: number,
    private readonly range: ByteRange,
    private readonly onLost: (error: StoreError, offset: number) => void,
    private readonly options: { perFetch: number; readAhead: number } = {
      perFetch: CHUNKS_PER_FETCH,
      readAhead: READ_AHEAD,
    },
  ) {
    // One answer's chunks buffered for the consumer while the next requests are on their way.
    super({ highWaterMark: options.perFetch * CHUNK_SIZE });
    this.nextFetch = this.nextPush = Math.floor(range.start / CHUNK_SIZE);
    this.last = Math.floor(range.end / CHUNK_SIZE);
  }

  override _read(): void {
    this.topUp();
    void this.pushReady();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inFlight.length = 0;
    callback(error);
  }

  private topUp(): void {
    while (this.inFlight.length < this.options.readAhead && this.nextFetch <= this.last) {
      const first = this.nextFetch;
      const count = Math.min(this.options.perFetch, this.last - first + 1);
      this.nextFetch += count;
      const chunks = this.fetch(first, count);
      // Rejections are handled in order by pushReady; this keeps a later one from going unhandled.
      chunks.catch(() => undefined);
      this.inFlight.push({ first, chunks });
    }
  }

  /** Pushes the chunks in order as their requests are answered, until the consumer has enough. */
  private async pushReady(): Promise<void> {
    if (this.pushing) return;
    this.pushing = true;
    try {
      while (this.inFlight.length > 0 && !this.destroyed) {
        let chunks: (Buffer | null)[];
        try {
          chunks = await this.inFlight[0]!.chunks;
        } catch (err) {
          this.destroy(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (this.destroyed) return;
        this.inFlight.shift();
        // While the consumer keeps up, the next request leaves before these chunks are handed
        // on (Redis works meanwhile); otherwise only when it asks for more (_read).
        if (this.readableLength < this.readableHighWaterMark) this.topUp();
        let wantsMore = true;
        for (const chunk of chunks) {
          const index = this.nextPush++;
          const error = this.checkChunk(index, chunk);
          if (error !== undefined) {
            this.onLost(error, Math.max(index * CHUNK_SIZE, this.range.start));
            this.destroy(error);
            return;
          }
          const offset = index * CHUNK_SIZE;
          const from = Math.max(this.range.start - offset, 0);
          const to = Math.min(this.range.end - offset + 1, CHUNK_SIZE);
          wantsMore = this.push(chunk!.subarray(from, to));
        }
        if (this.nextPush > this.last) {
          this.push(null);
          return;
        }
        if (!wantsMore) return;
      }
    } finally {
      this.pushing = false;
    }
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
