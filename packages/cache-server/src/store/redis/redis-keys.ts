import { createHash, randomBytes } from 'node:crypto';

/**
 * Names of everything the Redis store keeps, all under one prefix (default `sc:v1:`, the `v1`
 * being the format version: another version's keys are never read).
 *
 *   <prefix>{<sha256(key)>}:meta             hash: every variant of one key (see meta-fields.ts)
 *   <prefix>{<sha256(key)>}:body:<bodyId>    hash: chunk index → up to CHUNK_SIZE body bytes
 *   <prefix>{<sha256(key)>}:body:<bodyId>:reading   a reader's lease on that body (redis-scripts.ts)
 *   <prefix>lock:{<sha256(key)>}             collapsing lock of one key (lock.ts)
 *   <prefix>stats                            hash: entries, size (approximate, see redis-stats.ts)
 *   <prefix>{keys-<h>}:lex / :until          the prefix index, shard h (entry-index.ts): keys by name / by useful-until
 *   <prefix>tag:{<sha256(tag)>}              the tag index of one tag (entry-index.ts): key hashes by useful-until
 *   <prefix>generation                       the store's generation: a purge of everything replaces it (entry-index.ts)
 *   <prefix>invalidate                       pub/sub channel (invalidation-bus.ts)
 *
 * The `{…}` hash tag puts a key's meta and bodies in one cluster slot, so one Lua script can
 * check a body and publish its meta atomically, on a single server and on a cluster alike.
 * Key names never contain request text, only hashes and random ids.
 */
export const DEFAULT_PREFIX = 'sc:v1:';

/** Body bytes per chunk field: large enough for few round trips, small enough to bound memory. */
export const CHUNK_SIZE = 256 * 1024;

const PREFIX = /^[A-Za-z0-9:._-]*$/;

export interface RedisKeys {
  readonly prefix: string;
  meta(hash: string): string;
  /** Prefix of every body key of one key; the Lua scripts append the body id. */
  bodyPrefix(hash: string): string;
  body(hash: string, bodyId: string): string;
  /** The lease readers of a body hold while they stream it (the scripts derive it from body()). */
  reading(hash: string, bodyId: string): string;
  lock(hash: string): string;
  /** The prefix index's shard `shard` (one hex digit): its two sorted sets share one slot. */
  prefixShard(shard: string): { lex: string; until: string };
  /** The tag index of one purge tag. */
  tagIndex(tag: string): string;
  /** The store's generation (a random id): every variant records it; a purge of everything replaces it. */
  readonly generation: string;
  readonly stats: string;
  readonly recountLock: string;
  readonly channel: string;
  /** SCAN pattern matching every meta key. */
  readonly metaPattern: string;
}

export function createRedisKeys(prefix = DEFAULT_PREFIX): RedisKeys {
  // Kept to characters that are not glob syntax, so the SCAN pattern matches what it should.
  if (!PREFIX.test(prefix)) throw new RangeError(`a Redis key prefix may only contain A-Z a-z 0-9 : . _ -`);
  return {
    prefix,
    meta: (hash) => `${prefix}{${hash}}:meta`,
    bodyPrefix: (hash) => `${prefix}{${hash}}:body:`,
    body: (hash, bodyId) => `${prefix}{${hash}}:body:${bodyId}`,
    reading: (hash, bodyId) => `${prefix}{${hash}}:body:${bodyId}:reading`,
    lock: (hash) => `${prefix}lock:{${hash}}`,
    prefixShard: (shard) => ({ lex: `${prefix}{keys-${shard}}:lex`, until: `${prefix}{keys-${shard}}:until` }),
    tagIndex: (tag) => `${prefix}tag:{${hashKey(tag)}}`,
    generation: `${prefix}generation`,
    stats: `${prefix}stats`,
    recountLock: `${prefix}lock:recount`,
    channel: `${prefix}invalidate`,
    metaPattern: `${prefix}{*}:meta`,
  };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** 128 random bits: a body id is never reused, so a replaced body never shares a key with its successor. */
export function createBodyId(): string {
  return randomBytes(16).toString('hex');
}

export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_SIZE);
}
