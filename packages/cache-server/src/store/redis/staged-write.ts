import type { Readable } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import { ChunkFollower, type WriteState } from './chunk-follower.js';
import type { InvalidationBus } from './invalidation-bus.js';
import { defineScript } from './lua-script.js';
import { readChunks } from './redis-body-reads.js';
import type { RedisContext } from './redis-context.js';
import { hashKey } from './redis-keys.js';

/*
 * The write a lock holder is making, published beside its lock so that another node can follow
 * it (lock.ts, CollapseLocks.follow): `<prefix>lock:{<hash>}:write` holds the holder's lock
 * token and the entry it writes (its body id included), lives as long as the lock (renewed and
 * released with it) and names nothing that is not also in the staged body's own key.
 */

/** What the lock holder announces: its token (the write counts while that token holds the lock) and its entry. */
export interface StagedWrite {
  token: string;
  entry: Omit<EntryMeta, 'checksum'>;
}

/** Another node's write, followed here (the shape of proxy/context.ts's FollowedWrite). */
export interface FollowedRedisWrite {
  entry: Omit<EntryMeta, 'bodyId' | 'checksum'>;
  body: Readable;
  committed: Promise<EntryMeta | undefined>;
}

/** The key of the write record of the lock at `lockKey`: the same `{hash}` tag, so the same cluster slot. */
export function writeRecordKey(lockKey: string): string {
  return `${lockKey}:write`;
}

/**
 * KEYS: lock, record. ARGV: token, record JSON. Recorded only while `token` holds the lock, for
 * as long as the lock has left. Returns 1 when recorded.
 */
const ANNOUNCE = defineScript(
  'write-announce',
  `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', math.max(redis.call('PTTL', KEYS[1]), 1))
return 1`,
);

/** KEYS: lock, record. Returns {lock token or '', its PTTL, record or ''}, in one step. */
const LOOK = defineScript(
  'write-look',
  `local token = redis.call('GET', KEYS[1])
if not token then return {'', -2, ''} end
return {token, redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}`,
);

/**
 * KEYS: lock, meta, body. ARGV: token, variant, bodyId, next chunk, read grace. Where a followed
 * write stands: {1 while the token holds the lock, the variant's JSON when it holds this body
 * (committed) or '', chunks in the body, 1 when chunk `next` is there}. It also renews the
 * follower's lease on the body, so a commit that replaces it at once keeps it for the read grace.
 */
const WRITE_STATE = defineScript(
  'write-state',
  `local writing = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then writing = 1 end
local json = ''
if redis.call('HGET', KEYS[2], 'b:' .. ARGV[2]) == ARGV[3] then json = redis.call('HGET', KEYS[2], 'm:' .. ARGV[2]) or '' end
redis.call('SET', KEYS[3] .. ':reading', '1', 'PX', ARGV[5])
return {writing, json, redis.call('HLEN', KEYS[3]), redis.call('HEXISTS', KEYS[3], ARGV[4])}`,
);

/** Publishes the holder's write beside its lock (fire and forget: without it, others wait for the commit). */
export async function announceWrite(ctx: RedisContext, lockKey: string, record: StagedWrite): Promise<void> {
  await ctx.script(lockKey, ANNOUNCE, [lockKey, writeRecordKey(lockKey)], [record.token, JSON.stringify(record)]);
}

/** The key's lock as another node sees it: who holds it, until when (local ms), and the write it announced. */
export async function lookAtLock(
  ctx: RedisContext,
  lockKey: string,
): Promise<{ token: string; expiry: number; staged: StagedWrite | undefined } | undefined> {
  const [token, ttl, json] = (await ctx.script(lockKey, LOOK, [lockKey, writeRecordKey(lockKey)], [])) as [
    string,
    number,
    string,
  ];
  if (token === '') return undefined;
  const staged = parseRecord(json);
  // -1 (no TTL) never happens to a lock, but would hold it for ever: treat it as held now.
  return { token, expiry: Date.now() + Math.max(ttl, 0), staged: staged?.token === token ? staged : undefined };
}

/** Streams the announced write's body as it lands in Redis (chunk-follower.ts). */
export function followWrite(
  ctx: RedisContext,
  lockKey: string,
  staged: StagedWrite,
  bus?: InvalidationBus,
): FollowedRedisWrite {
  const { entry, token } = staged;
  const hash = hashKey(entry.key);
  const metaKey = ctx.keys.meta(hash);
  const bodyKey = ctx.keys.body(hash, entry.bodyId);
  const readState = async (next: number): Promise<WriteState> => {
    const [writing, json, chunks, hasNext] = (await ctx.script(
      lockKey,
      WRITE_STATE,
      [lockKey, metaKey, bodyKey],
      [token, entry.variant, entry.bodyId, next, ctx.settings.readGraceMs],
    )) as [number, string, number, number];
    return { writing: writing === 1, committed: committedEntry(json, entry.bodyId), chunks, hasNext: hasNext === 1 };
  };
  const body = new ChunkFollower(readChunks(ctx, bodyKey), readState, entry.size, {
    // The commit is announced on the bus: the follower ends without waiting for its next look.
    ...(bus
      ? {
          onWake: (wake) =>
            bus.subscribe(
              (event) => {
                if ((event.kind === 'key' && event.key === entry.key) || event.kind === 'all') wake();
              },
              { includeOwn: true },
            ),
        }
      : {}),
  });
  const { bodyId: _bodyId, ...written } = entry;
  return { entry: written, body, committed: body.committed };
}

function parseRecord(json: string): StagedWrite | undefined {
  if (json === '') return undefined;
  try {
    const record = JSON.parse(json) as Partial<StagedWrite>;
    const entry = record.entry;
    if (typeof record.token !== 'string' || typeof entry?.bodyId !== 'string' || typeof entry.key !== 'string') {
      return undefined;
    }
    return record as StagedWrite;
  } catch {
    return undefined;
  }
}

function committedEntry(json: string, bodyId: string): EntryMeta | undefined {
  if (json === '') return undefined;
  try {
    const entry = JSON.parse(json) as EntryMeta;
    return entry.bodyId === bodyId && typeof entry.size === 'number' ? entry : undefined;
  } catch {
    return undefined;
  }
}
