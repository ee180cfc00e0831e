import { defineScript } from './lua-script.js';

/*
 * The store's atomic steps, each one Lua script on one key's slot (see redis-keys.ts).
 *
 * A key's meta hash holds, per variant v:
 *   m:v  the EntryMeta as JSON (without hits and lastAccess)   b:v  its body id
 *   s:v  body size in bytes                                     t:v  useful until (ms epoch)
 *   h:v  hits                                                   a:v  last access (ms epoch)
 *   x:v  the incarnations of the purge indexes it was added to (entry-index.ts)
 * Lua compares and counts on the small fields and never rewrites the JSON (cjson would turn an
 * empty array into an object).
 *
 * A body that stops being current (replaced, deleted, pruned) is *retired*: deleted at once when
 * nobody is reading it, which frees its memory now (a purge under `maxmemory-policy noeviction`
 * must make room), else kept for the read grace, so that a reader that opened it keeps reading
 * the complete old bytes (the Store contract). A reader of a body of several chunks holds a
 * lease (`<body>:reading`, set when it opens the body and renewed while it reads); a body of one
 * chunk is read whole when it is opened and needs none.
 *
 * Every script that changes a key's variants also PUBLISHes the change on the invalidation
 * channel, in the same atomic step (invalidation-bus.ts): no change without its message, which
 * is what lets a node keep metadata in memory (meta-cache.ts). The last three ARGV of those
 * scripts are: channel, source (the publishing node's bus id), key (the cache key).
 */
const HELPERS = `
local function retire(key, grace)
  if redis.call('EXISTS', key .. ':reading') == 0 then
    redis.call('UNLINK', key)
    return
  end
  local ttl = redis.call('PTTL', key)
  if ttl == -1 or ttl > grace then redis.call('PEXPIRE', key, grace) end
end
local function keepFor(key, grace)
  local ttl = redis.call('PTTL', key)
  if ttl >= 0 and ttl < grace then redis.call('PEXPIRE', key, grace) end
end
local function setMax(meta, field, value)
  if value == '' then return end
  local current = tonumber(redis.call('HGET', meta, field))
  if current == nil or tonumber(value) > current then redis.call('HSET', meta, field, value) end
end
local function dropVariant(meta, bodyPrefix, v, grace)
  local id = redis.call('HGET', meta, 'b:' .. v)
  local size = tonumber(redis.call('HGET', meta, 's:' .. v)) or 0
  if id and size > 0 then retire(bodyPrefix .. id, grace) end
  redis.call('HDEL', meta, 'm:' .. v, 'b:' .. v, 's:' .. v, 't:' .. v, 'h:' .. v, 'a:' .. v, 'x:' .. v)
  return size, id
end
-- {kind='key'}: this key changed ('update') or lost variants ('delete'); one: the variant is named,
-- ids: the bodies that stopped being current (cjson sends an empty list as {}: the bus reads it);
-- at: when a deletion happened (ms, the deleting node's clock), which every node's purge record keeps.
local function announce(channel, source, key, v, one, reason, ids, at)
  local event = {kind = 'key', key = key, reason = reason}
  if one then event.variant = v end
  if ids then event.bodyIds = ids end
  if at then event.at = at end
  redis.call('PUBLISH', channel, cjson.encode({source = source, event = event}))
end
local function variantsOf(meta, tag)
  local variants = {}
  for _, field in ipairs(redis.call('HKEYS', meta)) do
    if string.sub(field, 1, 2) == tag then variants[#variants + 1] = string.sub(field, 3) end
  end
  return variants
end
-- The meta hash lives as long as its most useful variant; with none left it is deleted.
local function expireMeta(meta, now)
  local latest = nil
  for _, v in ipairs(variantsOf(meta, 't:')) do
    local t = tonumber(redis.call('HGET', meta, 't:' .. v)) or 0
    if latest == nil or t > latest then latest = t end
  end
  if latest == nil then
    redis.call('DEL', meta)
  else
    redis.call('PEXPIRE', meta, math.max(latest - now, 1))
  end
end
`;

/**
 * Publishes a completely written body: checks that it has every chunk and exactly `size`
 * bytes, then points the variant at it in the same atomic step (replacing and retiring the
 * previous body), prunes variants past their useful life, and sets the TTLs.
 * KEYS: meta, body. ARGV: variant, bodyId, json, size, chunkSize, usefulUntil, now, grace,
 * bodyPrefix, hits|'', lastAccess|'', index record, channel, source, key. Returns {1, Δentries, Δbytes, ...ids
 * of the bodies it retired}, or {0, 0, 0} when the body is incomplete (it is then deleted).
 */
export const COMMIT = defineScript(
  'commit',
  `${HELPERS}
local meta, body = KEYS[1], KEYS[2]
local v, id = ARGV[1], ARGV[2]
local size, chunkSize = tonumber(ARGV[4]), tonumber(ARGV[5])
local usefulUntil, now, grace, bodyPrefix = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local chunks = math.ceil(size / chunkSize)
if redis.call('HLEN', body) ~= chunks then
  redis.call('DEL', body)
  return {0, 0, 0}
end
local total = 0
for i = 0, chunks - 1 do total = total + redis.call('HSTRLEN', body, tostring(i)) end
if total ~= size then
  redis.call('DEL', body)
  return {0, 0, 0}
end
local entries, bytes = 1, size
local result = {1, 0, 0}
if redis.call('HEXISTS', meta, 'b:' .. v) == 1 then
  local oldSize, oldId = dropVariant(meta, bodyPrefix, v, grace)
  entries = 0
  bytes = size - oldSize
  result[#result + 1] = oldId
end
for _, other in ipairs(variantsOf(meta, 't:')) do
  if (tonumber(redis.call('HGET', meta, 't:' .. other)) or 0) <= now then
    local oldSize, oldId = dropVariant(meta, bodyPrefix, other, grace)
    entries = entries - 1
    bytes = bytes - oldSize
    result[#result + 1] = oldId
  end
end
redis.call('HSET', meta, 'm:' .. v, ARGV[3], 'b:' .. v, id, 's:' .. v, ARGV[4], 't:' .. v, ARGV[6], 'x:' .. v, ARGV[12])
if ARGV[10] ~= '' then redis.call('HSET', meta, 'h:' .. v, ARGV[10]) end
if ARGV[11] ~= '' then redis.call('HSET', meta, 'a:' .. v, ARGV[11]) end
if chunks > 0 then redis.call('PEXPIRE', body, math.max(usefulUntil - now, 1) + grace) end
expireMeta(meta, now)
result[2], result[3] = entries, bytes
local retired = {}
for i = 4, #result do retired[#retired + 1] = result[i] end
announce(ARGV[13], ARGV[14], ARGV[15], v, true, 'update', retired)
return result
`,
);

/**
 * Replaces a variant's metadata if it still holds `bodyId` (304 freshening), keeping the larger
 * hit count and last access, and moves its TTLs to the new useful life.
 * KEYS: meta. ARGV: variant, bodyId, json, usefulUntil, now, grace, bodyPrefix, hits|'',
 * lastAccess|'', index record, channel, source, key. Returns 1 when updated, 0 when the variant is gone or
 * holds another body.
 */
export const UPDATE_META = defineScript(
  'update-meta',
  `${HELPERS}
local meta = KEYS[1]
local v, id = ARGV[1], ARGV[2]
local usefulUntil, now, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('HGET', meta, 'b:' .. v) ~= id then return 0 end
redis.call('HSET', meta, 'm:' .. v, ARGV[3], 't:' .. v, ARGV[4], 'x:' .. v, ARGV[10])
setMax(meta, 'h:' .. v, ARGV[8])
setMax(meta, 'a:' .. v, ARGV[9])
if (tonumber(redis.call('HGET', meta, 's:' .. v)) or 0) > 0 then
  redis.call('PEXPIRE', ARGV[7] .. id, math.max(usefulUntil - now, 1) + grace)
end
expireMeta(meta, now)
announce(ARGV[11], ARGV[12], ARGV[13], v, true, 'update', nil)
return 1
`,
);

/**
 * Removes variants: every one (`mode` = 'all') or the one named, and only if it holds
 * `bodyId` when that is not ''. Their bodies are retired. Announced even when nothing was
 * removed (Redis had expired or evicted it): a node's memory tier may still hold a copy.
 * KEYS: meta. ARGV: bodyPrefix, grace, now, mode, variant, bodyId|'', channel, source, key.
 * Returns {removed variants, removed bytes, ...their body ids}.
 */
export const DELETE = defineScript(
  'delete',
  `${HELPERS}
local meta, bodyPrefix, grace, now = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local variants = {ARGV[5]}
if ARGV[4] == 'all' then variants = variantsOf(meta, 'b:') end
local result = {0, 0}
for _, v in ipairs(variants) do
  local id = redis.call('HGET', meta, 'b:' .. v)
  if id and (ARGV[6] == '' or id == ARGV[6]) then
    result[1] = result[1] + 1
    result[2] = result[2] + dropVariant(meta, bodyPrefix, v, grace)
    result[#result + 1] = id
  end
end
if result[1] > 0 then expireMeta(meta, now) end
local ids = {}
for i = 3, #result do ids[#ids + 1] = result[i] end
announce(ARGV[7], ARGV[8], ARGV[9], ARGV[5], ARGV[4] ~= 'all', 'delete', ids, now)
return result
`,
);

/**
 * Records hits batched on a node (recency-batch.ts): KEYS: meta. ARGV: variant, bodyId, hits,
 * last access, bodyPrefix. Adds the hits if the variant still holds that body, and touches the
 * body too, so that Redis's own LRU (maxmemory-policy allkeys-lru) sees it used although the
 * node served it from memory.
 */
export const MARK_USED = defineScript(
  'mark-used',
  `${HELPERS}
local meta, v = KEYS[1], ARGV[1]
if redis.call('HGET', meta, 'b:' .. v) ~= ARGV[2] then return 0 end
redis.call('HINCRBY', meta, 'h:' .. v, tonumber(ARGV[3]))
setMax(meta, 'a:' .. v, ARGV[4])
redis.call('TOUCH', ARGV[5] .. ARGV[2])
return 1
`,
);

/**
 * Checks that a variant still holds `bodyId` and that the body exists. With '1', returns chunk 0
 * (a body of one chunk, read whole here); otherwise the reader takes a lease on the body and the
 * body is kept for at least the read grace. KEYS: meta. ARGV: variant, bodyId, bodyPrefix, grace,
 * '1' for the whole body. Returns {0} not current, {2} body missing, {1[, chunk 0]} ready.
 */
export const OPEN_BODY = defineScript(
  'open-body',
  `${HELPERS}
local meta, v, id = KEYS[1], ARGV[1], ARGV[2]
if redis.call('HGET', meta, 'b:' .. v) ~= id then return {0} end
if (tonumber(redis.call('HGET', meta, 's:' .. v)) or 0) == 0 then return {1} end
local body = ARGV[3] .. id
if redis.call('EXISTS', body) == 0 then return {2} end
if ARGV[5] == '1' then return {1, redis.call('HGET', body, '0')} end
keepFor(body, tonumber(ARGV[4]))
redis.call('SET', body .. ':reading', '1', 'PX', ARGV[4])
return {1}
`,
);

/**
 * A reader renews its lease while it streams a body (chunks themselves are read with HMGET).
 * KEYS: body. ARGV: grace. Returns 0 when the body is gone.
 */
export const KEEP_READING = defineScript(
  'keep-reading',
  `${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
keepFor(KEYS[1], tonumber(ARGV[1]))
redis.call('SET', KEYS[1] .. ':reading', '1', 'PX', ARGV[1])
return 1
`,
);

/**
 * KEYS: body. ARGV: chunk index, bytes, ttl. Every chunk renews the body's orphan TTL: a write
 * whose node died leaves chunks that expire by themselves, and nothing points at them.
 */
export const WRITE_CHUNK = defineScript(
  'write-chunk',
  `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`,
);

export const ALL_SCRIPTS = [COMMIT, UPDATE_META, DELETE, MARK_USED, OPEN_BODY, KEEP_READING, WRITE_CHUNK];
