import type { EntryMeta } from '@simple-cache/common';
import { usefulUntil } from './entry-lifetime.js';
import { serializeMeta } from './meta-fields.js';
import type { RedisContext } from './redis-context.js';
import { CHUNK_SIZE, hashKey } from './redis-keys.js';
import { COMMIT, DELETE, UPDATE_META, WRITE_CHUNK } from './redis-scripts.js';

/*
 * The store's writes, one script each (redis-scripts.ts); each script also announces its change
 * on the invalidation bus, atomically. The callers keep their node's own state in step.
 */

/** Adds an entry to the purge indexes until `usefulUntil`; resolves to the record its variant keeps. */
export type Indexer = (meta: EntryMeta, usefulUntil: number, now: number) => Promise<string>;

export interface Committed {
  /** False when Redis lost part of the body before the commit (expired, evicted). */
  committed: boolean;
  /** Changes of the shared counters. */
  entries: number;
  bytes: number;
  /** The bodies the commit retired (the variant's previous one, pruned variants'). */
  retired: string[];
}

export async function writeChunk(ctx: RedisContext, meta: EntryMeta, index: number, bytes: Buffer): Promise<void> {
  const bodyKey = ctx.keys.body(hashKey(meta.key), meta.bodyId);
  await ctx.script(bodyKey, WRITE_CHUNK, [bodyKey], [index, bytes, ctx.settings.orphanTtlMs]);
}

export async function discardBody(ctx: RedisContext, meta: EntryMeta): Promise<void> {
  const bodyKey = ctx.keys.body(hashKey(meta.key), meta.bodyId);
  await ctx.gate.run(bodyKey, () => ctx.client.unlink(bodyKey)).catch(() => undefined);
}

/**
 * Points the variant at a completely written body, if every chunk is there. `index` adds the
 * entry to the purge indexes first (entry-index.ts) and gives the record the variant keeps.
 */
export async function commitBody(ctx: RedisContext, meta: EntryMeta, index: Indexer): Promise<Committed> {
  const hash = hashKey(meta.key);
  const now = Date.now();
  const until = usefulUntil(meta, now, ctx.lifetime);
  const record = await index(meta, until, now);
  const metaKey = ctx.keys.meta(hash);
  const [committed, entries, bytes, ...retired] = (await ctx.script(
    metaKey,
    COMMIT,
    [metaKey, ctx.keys.body(hash, meta.bodyId)],
    [
      ...[meta.variant, meta.bodyId, serializeMeta(meta), meta.size, CHUNK_SIZE],
      ...[until, now, ctx.settings.readGraceMs, ctx.keys.bodyPrefix(hash)],
      ...[meta.hits ?? '', meta.lastAccess ?? '', record, ...ctx.announcing(meta.key)],
    ],
  )) as [number, number, number, ...string[]];
  return { committed: committed === 1, entries, bytes, retired };
}

/**
 * Replaces the metadata of the variant holding `meta.bodyId` (a 304's freshening), keeping the
 * body's size and checksum; false when that body is no longer current. The purge indexes keep the
 * entry at least as long as its new useful life (`index`, first).
 */
export async function updateStoredMeta(ctx: RedisContext, meta: EntryMeta, index: Indexer): Promise<boolean> {
  const hash = hashKey(meta.key);
  const metaKey = ctx.keys.meta(hash);
  const [json, bodyId] = await ctx.gate.run(metaKey, () =>
    ctx.client.hmget(metaKey, `m:${meta.variant}`, `b:${meta.variant}`),
  );
  // Only the body that was looked up may be freshened: it may have been replaced meanwhile.
  if (json === null || json === undefined || bodyId !== meta.bodyId) return false;
  const stored = JSON.parse(json) as EntryMeta;
  const next: EntryMeta = { ...structuredClone(meta), size: stored.size, bodyId: stored.bodyId };
  delete next.checksum;
  if (stored.checksum !== undefined) next.checksum = stored.checksum;
  const now = Date.now();
  const until = usefulUntil(next, now, ctx.lifetime);
  const record = await index(next, until, now);
  const updated = await ctx.script(
    metaKey,
    UPDATE_META,
    [metaKey],
    [
      ...[meta.variant, meta.bodyId, serializeMeta(next), until, now],
      ...[ctx.settings.readGraceMs, ctx.keys.bodyPrefix(hash), meta.hits ?? '', meta.lastAccess ?? '', record],
      ...ctx.announcing(meta.key),
    ],
  );
  return updated === 1;
}

/**
 * Removes `variant` (every one when undefined), only if it holds `bodyId` when that is not '';
 * returns how many variants and bytes, and the removed bodies' ids.
 */
export async function removeVariants(
  ctx: RedisContext,
  key: string,
  variant: string | undefined,
  bodyId: string,
): Promise<{ removed: number; bytes: number; bodyIds: string[] }> {
  const hash = hashKey(key);
  const metaKey = ctx.keys.meta(hash);
  const [removed, bytes, ...bodyIds] = (await ctx.script(
    metaKey,
    DELETE,
    [metaKey],
    [
      ...[ctx.keys.bodyPrefix(hash), ctx.settings.readGraceMs, Date.now()],
      ...[variant === undefined ? 'all' : 'one', variant ?? '', bodyId, ...ctx.announcing(key)],
    ],
  )) as [number, number, ...string[]];
  return { removed, bytes, bodyIds };
}
