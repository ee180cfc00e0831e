import type { Logger } from 'pino';
import type { LifetimeOptions } from './entry-lifetime.js';
import { runScript, type LuaScript } from './lua-script.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';
import type { RedisKeys } from './redis-keys.js';

export interface RedisSettings {
  /** How long a replaced or deleted body stays readable for readers that already opened it. */
  readGraceMs: number;
  /** How long chunks of a write that never commits (its node died) survive its last chunk. */
  orphanTtlMs: number;
  /** How often the shared counters are re-read for stats(). */
  statsIntervalMs: number;
  /** How often (at most, across all nodes) the counters are recounted from the stored entries. */
  recountIntervalMs: number;
  /** How long metadata held in the node stays usable without a heartbeat coming back (0: never held). */
  metaTrustMs: number;
  /** How often hits are written to Redis (recency-batch.ts). */
  recencyIntervalMs: number;
  /** Whether a purge of everything deletes the old entries in the background (false: they expire). */
  purgeSweep: boolean;
}

const DEFAULTS: RedisSettings = {
  readGraceMs: 60_000,
  orphanTtlMs: 10 * 60_000,
  statsIntervalMs: 5_000,
  recountIntervalMs: 5 * 60_000,
  metaTrustMs: 1_000,
  recencyIntervalMs: 1_000,
  purgeSweep: true,
};

/** The settings given, the defaults for the rest. */
export function settingsFrom(options: Partial<RedisSettings>): RedisSettings {
  const given = Object.entries(options).filter(([name, value]) => name in DEFAULTS && value !== undefined);
  return { ...DEFAULTS, ...(Object.fromEntries(given) as Partial<RedisSettings>) };
}

/**
 * What the parts of the Redis store share: the client, the gate every call goes through, the
 * key names, the settings, and the node's bus id that the scripts publish changes under.
 */
export class RedisContext {
  /** The invalidation bus's node id (set once the bus is open). */
  source = '';

  constructor(
    readonly client: RedisClient,
    readonly gate: RedisGate,
    readonly keys: RedisKeys,
    readonly logger: Logger,
    readonly settings: RedisSettings,
    readonly lifetime: LifetimeOptions,
  ) {}

  /** Runs `script` through the gate; `route` is a key in the slot it runs on. */
  script(
    route: string,
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
    buffers = false,
  ): Promise<unknown> {
    return this.gate.run(route, () => runScript(this.client, script, keys, args, buffers));
  }

  /** The last ARGV of every script that announces a change of `key` (redis-scripts.ts). */
  announcing(key: string): string[] {
    return [this.keys.channel, this.source, key];
  }
}
