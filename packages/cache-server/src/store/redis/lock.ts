import { randomBytes } from 'node:crypto';
import { defineScript, runScript } from './lua-script.js';
import type { RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';
import { hashKey, type RedisKeys } from './redis-keys.js';
import type { InvalidationBus } from './invalidation-bus.js';

/**
 * Cross-node collapsing: when several nodes miss the same key at once, the one that gets the
 * lock fetches from the origin and the others wait for its entry to appear in Redis, falling
 * back to fetching themselves if it does not appear in time (the lock holder may be dead, or
 * its response not storable). The holder renews the lock every third of its TTL until it
 * releases it, so a fetch that takes longer than the TTL (a slow origin, a large body) keeps it
 * and the others keep waiting for its entry instead of fetching too (issue 16.8: a 6 s origin
 * with a 5 s lock made three origin requests); a node that dies holding it stops renewing, and
 * the lock expires by itself after at most its TTL.
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
  /**
   * Give up after this long without progress (then fetch yourself): the deadline moves on each
   * time the holder is seen renewing the lock, i.e. while its fetch is still going.
   */
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
/** A lock's expiry seen later than before by more than this was renewed (clock and reply jitter below it). */
const RENEWAL_SEEN_MS = 5;

export class CollapseLocks {
  /** Renewal timers of the locks this node holds, stopped on release (or when the store closes). */
  private readonly renewals = new Set<NodeJS.Timeout>();

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
    const extend = async (extendMs: number) =>
      (await gate.run(lockKey, () => runScript(client, EXTEND, [lockKey], [token, extendMs]))) === 1;
    // Renewed until released; a renewal that finds the lock gone or another's stops (a failed one
    // is tried again: the lock survives a third of its TTL without one).
    const renewal = setInterval(
      () =>
        void extend(ttlMs).then(
          (held) => held || this.stopRenewing(renewal),
          () => undefined,
        ),
      Math.max(1, Math.floor(ttlMs / 3)),
    ).unref();
    this.renewals.add(renewal);
    return {
      key,
      token,
      release: async () => {
        this.stopRenewing(renewal);
        try {
          return (await gate.run(lockKey, () => runScript(client, RELEASE, [lockKey], [token]))) === 1;
        } catch {
          return false;
        }
      },
      extend,
    };
  }

  /** Stops renewing every lock this node holds (the store closes): they expire by themselves. */
  close(): void {
    for (const renewal of this.renewals) clearInterval(renewal);
    this.renewals.clear();
  }

  /** True while some node holds the lock for `key`. */
  async isLocked(key: string): Promise<boolean> {
    const lockKey = this.keys.lock(hashKey(key));
    return (await this.gate.run(lockKey, () => this.client.exists(lockKey))) === 1;
  }

  /** When the lock for `key` expires (local clock, ms), or undefined when nobody holds it. */
  private async lockExpiry(key: string): Promise<number | undefined> {
    const lockKey = this.keys.lock(hashKey(key));
    const ttl = await this.gate.run(lockKey, () => this.client.pttl(lockKey));
    // -2: no such key; -1 (no TTL) never happens to a lock, but would hold it for ever: treat as held now.
    return ttl === -2 ? undefined : Date.now() + Math.max(ttl, 0);
  }

  private stopRenewing(renewal: NodeJS.Timeout): void {
    clearInterval(renewal);
    this.renewals.delete(renewal);
  }

  /**
   * Waits until `check` finds what the lock holder is producing (typically: a lookup that finds
   * a usable variant), the lock is gone without it, or `timeoutMs` passes without the holder
   * renewing the lock (its fetch is still going while it does). Rejects if Redis fails meanwhile
   * (then the caller fetches by itself).
   */
  async waitForEntry<T>(
    key: string,
    check: () => Promise<T | undefined>,
    options: WaitOptions,
  ): Promise<WaitOutcome<T>> {
    let deadline = Date.now() + options.timeoutMs;
    let seenExpiry: number | undefined;
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
        const expiry = await this.lockExpiry(key);
        if (expiry === undefined) {
          // The holder may have committed and unlocked between the two reads.
          const late = await check();
          return late !== undefined ? { outcome: 'found', value: late } : { outcome: 'released' };
        }
        // Renewed since the last look: the holder's fetch makes progress, so it is worth waiting for.
        if (seenExpiry !== undefined && expiry > seenExpiry + RENEWAL_SEEN_MS) {
          deadline = Math.max(deadline, Date.now() + options.timeoutMs);
        }
        seenExpiry = expiry;
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
