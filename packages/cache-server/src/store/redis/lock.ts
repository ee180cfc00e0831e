import { randomBytes } from 'node:crypto';
import { defineScript, runScript } from './lua-script.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';
import { hashKey, type RedisKeys } from './redis-keys.js';
import type { InvalidationBus } from './invalidation-bus.js';

/**
 * Cross-node collapsing: when several nodes miss the same key at once, the one that gets the
 * lock fetches from the origin and the others wait for its entry to appear in Redis, falling
 * back to fetching themselves if it does not appear in time (the lock holder may be slow, or
 * its response not storable). The lock expires by itself, so a node that dies holding it
 * blocks the others for at most its TTL.
 *
 * The classic single-instance Redis lock: `SET key token NX PX ttl`, released only by its
 * owner (compare-and-delete in Lua, so an expired lock re-taken by another node is not
 * released by the first). Not Redlock: a lock lost in a failover costs one extra origin fetch,
 * never a wrong response, which is all collapsing needs.
 */
export interface Lock {
  /** The cache key the lock is for. */
  readonly key: string;
  readonly token: string;
  /** Releases the lock if this holder still owns it; true when it did. Never rejects. */
  release(): Promise<boolean>;
  /** Extends the lock to `ttlMs` from now if this holder still owns it (a long fetch). */
  extend(ttlMs: number): Promise<boolean>;
}

export type WaitOutcome<T> =
  | { outcome: 'found'; value: T }
  /** The holder released the lock (or it expired) and there is still nothing: fetch yourself. */
  | { outcome: 'released' }
  | { outcome: 'timeout' };

export interface WaitOptions {
  /** Give up after this long (then fetch yourself). */
  timeoutMs: number;
  /** Re-check at least this often; bus events for the key wake the wait earlier. */
  pollMs?: number;
}

const RELEASE = defineScript(
  'lock-release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

const EXTEND = defineScript(
  'lock-extend',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
);

const DEFAULT_POLL_MS = 100;

export class CollapseLocks {
  constructor(
    private readonly client: RedisClient,
    private readonly gate: RedisGate,
    private readonly keys: RedisKeys,
    /** When given, commits announced on the bus wake waiters at once instead of at the next poll. */
    private readonly bus?: InvalidationBus,
  ) {}

  /**
   * Takes the lock for `key` for `ttlMs`, or resolves undefined when another node holds it.
   * Rejects when Redis is unreachable: the caller should then fetch by itself.
   */
  async acquire(key: string, ttlMs: number): Promise<Lock | undefined> {
    const lockKey = this.keys.lock(hashKey(key));
    const token = randomBytes(16).toString('hex');
    const { client, gate } = this;
    const reply = await gate.run(lockKey, () => client.set(lockKey, token, 'PX', ttlMs, 'NX'));
    if (reply !== 'OK') return undefined;
    return {
      key,
      token,
      release: async () => {
        try {
          return (await gate.run(lockKey, () => runScript(client, RELEASE, [lockKey], [token]))) === 1;
        } catch {
          return false;
        }
      },
      extend: async (extendMs: number) =>
        (await gate.run(lockKey, () => runScript(client, EXTEND, [lockKey], [token, extendMs]))) === 1,
    };
  }

  /** True while some node holds the lock for `key`. */
  async isLocked(key: string): Promise<boolean> {
    const lockKey = this.keys.lock(hashKey(key));
    return (await this.gate.run(lockKey, () => this.client.exists(lockKey))) === 1;
  }

  /**
   * Waits until `check` finds what the lock holder is producing (typically: a lookup that finds
   * a usable variant), the lock is gone without it, or `timeoutMs` passes. Rejects if Redis
   * fails meanwhile (then the caller fetches by itself).
   */
  async waitForEntry<T>(
    key: string,
    check: () => Promise<T | undefined>,
    options: WaitOptions,
  ): Promise<WaitOutcome<T>> {
    const deadline = Date.now() + options.timeoutMs;
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    let wake: (() => void) | undefined;
    const unsubscribe = this.bus?.subscribe(
      (event) => {
        if ((event.kind === 'key' && event.key === key) || event.kind === 'all') wake?.();
      },
      { includeOwn: true },
    );
    try {
      for (;;) {
        const value = await check();
        if (value !== undefined) return { outcome: 'found', value };
        if (!(await this.isLocked(key))) {
          // The holder may have committed and unlocked between the two reads.
          const late = await check();
          return late !== undefined ? { outcome: 'found', value: late } : { outcome: 'released' };
        }
        const left = deadline - Date.now();
        if (left <= 0) return { outcome: 'timeout' };
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pollMs, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      unsubscribe?.();
    }
  }
}
