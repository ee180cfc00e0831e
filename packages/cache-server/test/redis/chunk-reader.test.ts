import { describe, expect, test } from '@jest/globals';
import { ChunkReader, CHUNKS_PER_FETCH, READ_AHEAD } from '../../src/store/redis/chunk-reader.js';
import { CHUNK_SIZE } from '../../src/store/redis/redis-keys.js';
import { readAll } from '../store/store-helpers.js';

/**
 * The reader's own logic, against chunks answered by a function (its only input): requests are
 * pipelined up to READ_AHEAD, bytes come out in order whatever order the answers arrive in, and
 * a consumer that stops reading stops the requests. The real Redis path is covered by
 * redis-store-chunks.test.ts and the store contract.
 */
function chunkedBody(size: number): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) body[i] = (i * 7 + (i >> 18)) & 0xff;
  return body;
}

function chunksOf(body: Buffer, first: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => body.subarray((first + i) * CHUNK_SIZE, (first + i + 1) * CHUNK_SIZE));
}

/** Answers requests for chunks after the delays `delayOf` picks, recording what was asked and how many at once. */
function chunkSource(body: Buffer, delayOf: (first: number) => number) {
  let waiting = 0;
  const seen = { requested: [] as number[], mostAtOnce: 0 };
  const fetch = async (first: number, count: number): Promise<(Buffer | null)[]> => {
    seen.requested.push(first);
    waiting += 1;
    seen.mostAtOnce = Math.max(seen.mostAtOnce, waiting);
    await new Promise((resolve) => setTimeout(resolve, delayOf(first)));
    waiting -= 1;
    return chunksOf(body, first, count);
  };
  return { fetch, seen };
}

/** A small seeded generator: the same cases every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('ChunkReader', () => {
  test('keeps READ_AHEAD requests of CHUNKS_PER_FETCH chunks in flight and delivers the bytes in order', async () => {
    const chunks = 5 * CHUNKS_PER_FETCH + 1;
    const body = chunkedBody((chunks - 1) * CHUNK_SIZE + 123);
    // Later requests answer first: the order of answers must not be the order of bytes.
    const { fetch, seen } = chunkSource(body, (first) => (first % (2 * CHUNKS_PER_FETCH) === 0 ? 15 : 1));
    const reader = new ChunkReader(fetch, body.length, { start: 0, end: body.length - 1 }, () => undefined);
    expect((await readAll(reader)).equals(body)).toBe(true);
    expect(seen.mostAtOnce).toBe(READ_AHEAD);
    expect(seen.requested).toEqual(Array.from({ length: 6 }, (_, i) => i * CHUNKS_PER_FETCH));
  });

  test('any range comes out exactly, whatever the answer delays (200 seeded cases)', async () => {
    const size = 9 * CHUNK_SIZE + 1000;
    const body = chunkedBody(size);
    const random = seeded(16);
    for (let run = 0; run < 200; run += 1) {
      const a = Math.floor(random() * size);
      const b = Math.floor(random() * size);
      const [start, end] = a <= b ? [a, b] : [b, a];
      const delays = Array.from({ length: 10 }, () => Math.floor(random() * 3));
      const { fetch } = chunkSource(body, (first) => delays[first] ?? 0);
      const reader = new ChunkReader(fetch, size, { start, end }, () => undefined);
      expect((await readAll(reader)).equals(body.subarray(start, end + 1))).toBe(true);
    }
  });

  test('a consumer that stops reading stops the requests (bounded memory)', async () => {
    const body = chunkedBody(40 * CHUNK_SIZE);
    const { fetch, seen } = chunkSource(body, () => 0);
    const reader = new ChunkReader(fetch, body.length, { start: 0, end: body.length - 1 }, () => undefined);
    reader.pause();
    reader.once('readable', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The stream's buffer took one request's chunks (past its highWaterMark); READ_AHEAD more were asked for.
    expect(seen.requested.length).toBeLessThanOrEqual(READ_AHEAD + 1);
    reader.destroy();
  });

  test('a missing chunk ends the stream with an error and reports the loss', async () => {
    const body = chunkedBody(3 * CHUNK_SIZE);
    const lost: [string, number][] = [];
    const fetch = async (first: number, count: number) =>
      chunksOf(body, first, count).map((chunk, i) => (first + i === 1 ? null : chunk));
    const reader = new ChunkReader(fetch, body.length, { start: 0, end: body.length - 1 }, (error, offset) =>
      lost.push([error.code, offset]),
    );
    await expect(readAll(reader)).rejects.toMatchObject({ code: 'CACHE_ERR_ENTRY_GONE' });
    // Told where the body broke off: the first byte of the missing chunk.
    expect(lost).toEqual([['CACHE_ERR_ENTRY_GONE', CHUNK_SIZE]]);
  });
});
