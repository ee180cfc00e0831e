import { pino } from 'pino';
import { DEFAULT_REVALIDATION_MARGIN_MS, DEFAULT_STALE_MARGIN_MS, entryPolicyOf } from './entry-lifetime.js';
import { INDEX_SCRIPTS } from './entry-index-scripts.js';
import { loadScripts } from './lua-script.js';
import { createRedisClient, swallowErrors, waitUntilReady, type RedisClient } from './redis-connection.js';
import { RedisContext, settingsFrom } from './redis-context.js';
import { RedisGate } from './redis-gate.js';
import { createRedisKeys } from './redis-keys.js';
import type { RedisStoreOptions } from './redis-options.js';
import { ALL_SCRIPTS } from './redis-scripts.js';
import { describeRedisTarget, parseRedisTarget } from './redis-url.js';
import { checkServerSettings } from './server-check.js';

/**
 * The connections of a Redis store being opened (RedisStore.open): the client behind its gate,
 * in the context every part shares, and the subscriber the invalidation bus listens on. Waits
 * for the first connection or its failure, never longer: the cache must start while Redis is
 * down. The scripts are loaded on every (re)connection.
 */
export async function connectRedis(
  options: RedisStoreOptions,
): Promise<{ ctx: RedisContext; subscriber: RedisClient }> {
  const target = parseRedisTarget(options.url);
  const keys = createRedisKeys(options.prefix);
  const logger = (options.logger ?? pino({ enabled: false })).child({ module: 'redis-store' });
  const client = createRedisClient(target, options.connection);
  swallowErrors(client);
  const gate = new RedisGate(client, describeRedisTarget(target), logger, options.gate);
  const ctx = new RedisContext(client, gate, keys, logger, settingsFrom(options), {
    policy: entryPolicyOf(options.policy),
    revalidationMarginMs: options.revalidationMarginMs ?? DEFAULT_REVALIDATION_MARGIN_MS,
    staleMarginMs: options.staleMarginMs ?? DEFAULT_STALE_MARGIN_MS,
  });
  // A restarted Redis has forgotten the scripts; loading them first keeps EVALSHA ordered.
  const scripts = [...ALL_SCRIPTS, ...INDEX_SCRIPTS];
  client.on('ready', () => void loadScripts(client, scripts).catch(() => undefined));
  const subscriber = createRedisClient(target, options.connection, 'subscriber');
  swallowErrors(subscriber);
  if (await waitUntilReady(client)) await loadScripts(client, scripts).catch(() => undefined);
  checkServerSettings(client, logger);
  return { ctx, subscriber };
}
