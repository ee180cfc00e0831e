import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { CHUNK_SIZE } from './redis-keys.js';

/** Sends one chunk; rejects when Redis did not take it. */
export type SendChunk = (index: number, bytes: Buffer) => Promise<void>;

/**
 * The `body` of a Redis EntryWriter: cuts the stream into CHUNK_SIZE pieces and sends each as
 * soon as it is full, one at a time, taking the next bytes only once Redis has the previous
 * chunk — so at most about two chunks are in memory whatever the body's size, and a slow Redis
 * slows the writer down (back-pressure) instead of filling memory.
 *
 * When the body cannot be stored — it grows past `limit`, or Redis failed to take a chunk —
 * the stream destroys itself without an error: a tee feeding it (the client's response) just
 * drops it and keeps going, and commit() says why (`overLimit`, `failure`).
 */
export class ChunkWriter extends Writable {
  /** Bytes written to the stream, including the chunk that went over the limit. */
  bytes = 0;
  /** Why the body cannot be stored, when Redis failed to take a chunk. */
  failure: Error | undefined;
  /** Chunks Redis has taken. */
  chunks = 0;
  private readonly hash = createHash('sha1');
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: SendChunk,
    private readonly limit: number,
  ) {
    super();
  }

  get overLimit(): boolean {
    return this.bytes > this.limit;
  }

  /** True when every byte written so far went to Redis (or is about to with _final). */
  get isStorable(): boolean {
    return this.failure === undefined && !this.overLimit;
  }

  /** sha1 of the body in hex; meaningful after 'finish' when storable. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  /** Resolves when no chunk is on its way to Redis (then discarding the body cannot race one). */
  idle(): Promise<void> {
    return this.sending;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    if (!this.isStorable) {
      this.giveUp();
      callback();
      return;
    }
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < CHUNK_SIZE) {
      callback();
      return;
    }
    this.track(this.sendFullChunks()).then(() => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.isStorable || this.pendingBytes === 0) {
      callback();
      return;
    }
    const last = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.track(this.sendOne(last)).then(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.drop();
    callback(error);
  }

  private async sendFullChunks(): Promise<void> {
    while (this.pendingBytes >= CHUNK_SIZE && this.isStorable) {
      const all = Buffer.concat(this.pending);
      const chunk = all.subarray(0, CHUNK_SIZE);
      const rest = all.subarray(CHUNK_SIZE);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      await this.sendOne(chunk);
    }
  }

  private async sendOne(bytes: Buffer): Promise<void> {
    try {
      await this.send(this.chunks, bytes);
      this.chunks += 1;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.giveUp();
    }
  }

  /**
   * Drops what is buffered and closes the stream, on the next tick: chunks already queued are
   * then taken (and dropped) quietly instead of failing with "write after destroy".
   */
  private giveUp(): void {
    this.drop();
    if (!this.destroyed) process.nextTick(() => this.destroy());
  }

  /** Never rejects: failures are recorded in `failure`. */
  private track(work: Promise<void>): Promise<void> {
    this.sending = work;
    return work;
  }

  private drop(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }
}
