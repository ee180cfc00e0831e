import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { dataMasters, nameOf, waitUntilReady, type RedisClient } from './redis-connection.js';

/** What a Redis server says about how it keeps data; undefined where it would not say. */
export interface ServerSettings {
  node: string;
  /** Bytes; 0 = no limit. */
  maxmemory?: number;
  maxmemoryPolicy?: string;
  /** RDB save points (`save`), '' when there are none. */
  save?: string;
  appendonly?: boolean;
}

/**
 * The settings that hurt a cache, each with what it does and what to set instead (pure: one row
 * per setting in the tests). A cache's data needs no persistence: a restart that loses it costs
 * misses, one that restores an old snapshot brings back what was purged since.
 */
export function warningsFor(settings: ServerSettings): string[] {
  const at = `Redis ${settings.node}`;
  const warnings: string[] = [];
  if (settings.maxmemory === 0) {
    warnings.push(
      `${at} has no memory limit (maxmemory 0): it grows until the machine runs out of memory. Set maxmemory (e.g. 2gb) and maxmemory-policy allkeys-lru`,
    );
  }
  if (settings.maxmemoryPolicy === 'noeviction') {
    warnings.push(
      `${at} evicts nothing when full (maxmemory-policy noeviction): writes then fail (OOM) and the cache silently stops storing. Use allkeys-lru or allkeys-lfu`,
    );
  }
  if (settings.save !== undefined && settings.save !== '') {
    warnings.push(
      `${at} saves snapshots (save "${settings.save}"): a restart restores entries as they were at the last snapshot, purged ones included (nodes that saw the purge drop them again; a node started later serves them). A cache needs no persistence: save ""`,
    );
  }
  if (settings.appendonly === true) {
    warnings.push(
      `${at} logs every write to disk (appendonly yes): it costs throughput and a restart restores what is in the log. A cache needs no persistence: appendonly no`,
    );
  }
  return warnings;
}

/** CONFIG GET where allowed (managed services often rename it), else what INFO tells. */
export async function readServerSettings(node: Redis): Promise<ServerSettings> {
  const settings: ServerSettings = { node: nameOf(node) };
  try {
    const pairs = (await node.config('GET', '*')) as string[];
    const config = new Map<string, string>();
    for (let i = 0; i + 1 < pairs.length; i += 2) config.set(pairs[i]!, pairs[i + 1]!);
    if (config.has('maxmemory')) settings.maxmemory = Number(config.get('maxmemory'));
    if (config.has('maxmemory-policy')) settings.maxmemoryPolicy = config.get('maxmemory-policy')!;
    if (config.has('save')) settings.save = config.get('save')!;
    if (config.has('appendonly')) settings.appendonly = config.get('appendonly') === 'yes';
    return settings;
  } catch {
    const info = await node.info();
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const maxmemory = field('maxmemory');
    if (maxmemory !== undefined) settings.maxmemory = Number(maxmemory);
    const policy = field('maxmemory_policy');
    if (policy !== undefined) settings.maxmemoryPolicy = policy;
    const aof = field('aof_enabled');
    if (aof !== undefined) settings.appendonly = aof === '1';
    return settings;
  }
}

/**
 * Reads every master's settings the first time the client is ready (now, or once Redis is up)
 * and logs each warning once. Never throws: a server that will not say is not warned about.
 */
export function checkServerSettings(client: RedisClient, logger: Logger): void {
  const check = async () => {
    const { nodes } = dataMasters(client);
    for (const node of nodes) {
      try {
        if (!(await waitUntilReady(node))) continue;
        const { node: redis, ...settings } = await readServerSettings(node);
        logger.info({ redis, ...settings }, 'Redis server settings');
        for (const warning of warningsFor({ node: redis, ...settings })) logger.warn({ redis }, warning);
      } catch (err) {
        logger.debug({ err }, 'could not read the Redis server settings');
      }
    }
  };
  if (client.status === 'ready') void check();
  else client.once('ready', () => void check());
}
