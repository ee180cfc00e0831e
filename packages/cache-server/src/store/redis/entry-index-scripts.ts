import { defineScript } from './lua-script.js';

/*
 * The purge indexes' atomic steps (entry-index.ts), each one script on one index key's slot.
 *
 * Every index key carries an *incarnation*: a member `!<random id>` with score +inf, created with
 * the key. Redis evicts or deletes a key whole, so a key that comes back (a later write creates
 * it again) comes back with another incarnation, and every entry recorded under the old one is
 * known to be missing from it. Members are only ever removed once their score (the time until
 * which their entry may be used, plus a margin) has passed: never because a purge found them
 * stale, which could race a writer that added its key just before committing (the member would
 * go, the entry would come). Entry keys start with their origin's scheme, key hashes are hex, so
 * no member sorts or collides with `!`.
 */
const HELPERS = `
local function keepFor(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local function raise(key, member, score)
  local current = tonumber(redis.call('ZSCORE', key, member))
  if current == nil or score > current then redis.call('ZADD', key, score, member) end
end
local function incarnationOf(key)
  return redis.call('ZRANGEBYSCORE', key, '+inf', '+inf', 'LIMIT', 0, 1)[1]
end
-- A prefix shard is whole when both of its sets carry the same incarnation.
local function shardIncarnation(lex, byUntil)
  local marker = incarnationOf(byUntil)
  if marker and redis.call('ZSCORE', lex, marker) then return marker end
  return nil
end
`;

/**
 * Adds an entry's key to its prefix shard: KEYS: lex (score 0, ordered by name for
 * ZRANGEBYLEX), until (ordered by useful-until). ARGV: key, until (ms), now (ms), a fresh
 * incarnation id (used when the shard is missing or half there: it is then started again).
 * Trims up to 32 members whose time has passed and keeps both keys as long as their latest
 * member. Returns the shard's incarnation.
 */
export const INDEX_KEY = defineScript(
  'index-key',
  `${HELPERS}
local lex, byUntil = KEYS[1], KEYS[2]
local key, untilMs, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local marker = shardIncarnation(lex, byUntil)
if not marker then
  redis.call('DEL', lex, byUntil)
  marker = '!' .. ARGV[4]
  redis.call('ZADD', lex, 0, marker)
  redis.call('ZADD', byUntil, '+inf', marker)
end
redis.call('ZADD', lex, 0, key)
raise(byUntil, key, untilMs)
local expired = redis.call('ZRANGEBYSCORE', byUntil, '-inf', '(' .. ARGV[3], 'LIMIT', 0, 32)
if #expired > 0 then
  redis.call('ZREM', lex, unpack(expired))
  redis.call('ZREM', byUntil, unpack(expired))
end
keepFor(lex, untilMs - now)
keepFor(byUntil, untilMs - now)
return string.sub(marker, 2)
`,
);

/**
 * Adds an entry's key hash to a tag's index: KEYS: the tag index. ARGV: key hash, until (ms),
 * now (ms), a fresh incarnation id. Trims every member whose time has passed and keeps the key
 * as long as its latest member. Returns the tag index's incarnation.
 */
export const INDEX_TAG = defineScript(
  'index-tag',
  `${HELPERS}
local index, member, untilMs, now = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local marker = incarnationOf(index)
if not marker then
  marker = '!' .. ARGV[4]
  redis.call('ZADD', index, '+inf', marker)
end
raise(index, member, untilMs)
redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. ARGV[3])
keepFor(index, untilMs - now)
return string.sub(marker, 2)
`,
);

/**
 * The incarnation of an index key: KEYS: lex, until of a prefix shard, or the tag index alone.
 * Returns it, or false when the key (or half of a shard) is missing.
 */
export const INCARNATION = defineScript(
  'index-incarnation',
  `${HELPERS}
local marker
if #KEYS == 2 then marker = shardIncarnation(KEYS[1], KEYS[2]) else marker = incarnationOf(KEYS[1]) end
if not marker then return false end
return string.sub(marker, 2)
`,
);

/**
 * The store's generation, created when missing (evicted, deleted, a fresh Redis): KEYS: the
 * generation key. ARGV: a fresh id. Returns the generation.
 */
export const GENERATION = defineScript(
  'generation',
  `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`,
);

export const INDEX_SCRIPTS = [INDEX_KEY, INDEX_TAG, INCARNATION, GENERATION];
