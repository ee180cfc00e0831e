import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { readableOf, resolveRange } from '../body-range.js';
import type { ByteRange } from '../store.js';
import { StoreError, type StoreErrorCode } from '../store-errors.js';
import { ChunkReader, type FetchChunks } from './chunk-reader.js';
import type { RedisContext } from './redis-context.js';
import { CHUNK_SIZE, hashKey } from './redis-keys.js';
import { KEEP_READING, OPEN_BODY } from './redis-scripts.js';

const BODY_ID = /^[0-9a-f]{32}$/;

/**
 * Told when a body proved missing or corrupt (`offset`: where a stream that had started failed):
 * the store logs it and drops the entry.
 */
export type OnLost = (entry: EntryMeta, code: StoreErrorCode, offset?: number) => Promise<void>;

/**
 * Streams a stored body (or a range of it): one script checks the variant still holds it and
 * keeps it for the read grace, and returns it whole when it is one chunk; a larger one streams
 * chunk by chunk with the chunk requests pipelined (chunk-reader.ts).
 */
export async function openStoredBody(
  ctx: RedisContext,
  entry: EntryMeta,
  range: ByteRange | undefined,
  onLost: OnLost,
): Promise<Readable> {
  const wanted = resolveRange(entry.size, range);
  if (!BODY_ID.test(entry.bodyId)) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'not a body of this store');
  const hash = hashKey(entry.key);
  const whole = entry.size <= CHUNK_SIZE;
  const metaKey = ctx.keys.meta(hash);
  const [status, first] = (await ctx.script(
    metaKey,
    OPEN_BODY,
    [metaKey],
    [entry.variant, entry.bodyId, ctx.keys.bodyPrefix(hash), ctx.settings.readGraceMs, whole ? '1' : '0'],
    true,
  )) as [number, Buffer | null | undefined];
  if (status === 0) throw new StoreError('CACHE_ERR_ENTRY_GONE', 'the entry was replaced or deleted');
  if (status === 2) {
    await onLost(entry, 'CACHE_ERR_ENTRY_GONE');
    throw new StoreError('CACHE_ERR_ENTRY_GONE', 'the body is gone from Redis (expired or evicted)');
  }
  if (entry.size === 0) return readableOf(Buffer.alloc(0));
  if (whole) {
    const problem = checkWholeBody(entry, first ?? null);
    if (problem !== undefined) {
      await onLost(entry, problem.code);
      throw problem;
    }
    return readableOf(first!.subarray(wanted.start, wanted.end + 1));
  }
  return new ChunkReader(
    readChunks(ctx, ctx.keys.body(hash, entry.bodyId)),
    entry.size,
    wanted,
    (error, offset) => void onLost(entry, error.code, offset),
  );
}

/**
 * Chunks by HMGET (a script would copy each chunk through Lua: half the throughput), with the
 * reader's lease renewed alongside every quarter of the read grace, so a body retired meanwhile
 * stays for as long as it is being read.
 */
export function readChunks(ctx: RedisContext, bodyKey: string): FetchChunks {
  const { readGraceMs } = ctx.settings;
  let renewedAt = performance.now();
  return (first, count) => {
    if (performance.now() - renewedAt > readGraceMs / 4) {
      renewedAt = performance.now();
      ctx.script(bodyKey, KEEP_READING, [bodyKey], [readGraceMs]).catch(() => undefined);
    }
    const fields = Array.from({ length: count }, (_, i) => String(first + i));
    return ctx.gate.run(bodyKey, () => ctx.client.hmgetBuffer(bodyKey, ...fields));
  };
}

/** A body read whole (one chunk): its length and sha1 must match the metadata. */
function checkWholeBody(entry: EntryMeta, body: Buffer | null): StoreError | undefined {
  if (body === null) return new StoreError('CACHE_ERR_ENTRY_GONE', 'the body is gone from Redis');
  if (body.length !== entry.size) {
    return new StoreError('CACHE_ERR_CORRUPT_ENTRY', `body has ${body.length} bytes, expected ${entry.size}`);
  }
  if (entry.checksum !== undefined && createHash('sha1').update(body).digest('hex') !== entry.checksum) {
    return new StoreError('CACHE_ERR_CORRUPT_ENTRY', 'body checksum mismatch');
  }
  return undefined;
}
