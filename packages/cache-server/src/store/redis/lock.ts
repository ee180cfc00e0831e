import { randomBytes } from 'node:crypto';
import type { EntryMeta } from '@simple-cache/common';
import { defineScript } from './lua-script.js';
import type { RedisContext } from './redis-context.js';
import { hashKey } from './redis-keys.js';
import type { InvalidationBus } from './invalidation-bus.js';
import { announceWrite, followWrite, lookAtLock, writeRecordKey, type FollowedRedisWrite } from './staged-write.js';

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
 * A node that cannot take the lock does better than wait for the commit: it *follows* the
 * holder's write (follow): the holder records the write it makes beside its lock
 * (staged-write.ts), and the follower streams that body's chunks as they land in Redis
 * (chunk-follower.ts), the way the workers of one machine follow each other's writes
 * (cluster/collapse-client.ts) through the same CrossNodeCollapse.follow.
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

/** KEYS: lock, its write record. The record goes with the lock. */
const RELEASE = defineScript(
  'lock-release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0`,
);

/** KEYS: lock, its write record. The record lives as long as the lock. */
const EXTEND = defineScript(
  'lock-extend',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`,
);

const DEFAULT_POLL_MS = 100;
/** The first re-check comes this soon; the pause doubles up to pollMs. */
const FIRST_POLL_MS = 5;

/** A lock this node holds: its token, and whether the write it makes was announced yet. */
interface Held {
  token: string;
  announced: boolean;
}

export type FollowOutcome =
  { outcome: 'write'; write: FollowedRedisWrite } | { outcome: 'released' } | { outcome: 'timeout' };

/** What one look at the lock found: the end of the wait, or the lock's expiry (local ms) to keep waiting. */
type Look<T> = { done: T } | { expiry: number };
/** A lock's expiry seen later than before by more than this was renewed (clock and reply jitter below it). */
const RENEWAL_SEEN_MS = 5;

export class CollapseLocks {
  /** Renewal timers of the locks this node holds, stopped on release (or when the store closes). */
  private readonly renewals = new Set<NodeJS.Timeout>();
  /** The locks this node holds, by cache key. */
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly ctx: RedisContext,
    /** When given, commits announced on the bus wake waiters at once instead of at the next poll. */
    private readonly bus?: InvalidationBus,
  ) {}

  /**
   * Takes the lock for `key` for `ttlMs`, or resolves undefined when another node holds it.
   * Rejects when Redis is unreachable: the caller should then fetch by itself.
   */
  async acquire(key: string, ttlMs: number): Promise<Lock | undefined> {
    const { ctx } = this;
    const lockKey = ctx.keys.lock(hashKey(key));
    const lockKeys = [lockKey, writeRecordKey(lockKey)];
    const token = randomBytes(16).toString('hex');
    const reply = await ctx.gate.run(lockKey, () => ctx.client.set(lockKey, token, 'PX', ttlMs, 'NX'));
    if (reply !== 'OK') return undefined;
    const held: Held = { token, announced: false };
    this.held.set(key, held);
    const letGo = () => {
      this.stopRenewing(renewal);
      if (this.held.get(key) === held) this.held.delete(key);
    };
    const extend = async (extendMs: number) => (await ctx.script(lockKey, EXTEND, lockKeys, [token, extendMs])) === 1;
    // Renewed until released; a renewal that finds the lock gone or another's stops (a failed one
    // is tried again: the lock survives a third of its TTL without one).
    const renewal = setInterval(
      () =>
        void extend(ttlMs).then(
          (stillHeld) => stillHeld || letGo(),
          () => undefined,
        ),
      Math.max(1, Math.floor(ttlMs / 3)),
    ).unref();
    this.renewals.add(renewal);
    return {
      key,
      token,
      release: async () => {
        letGo();
        try {
          return (await ctx.script(lockKey, RELEASE, lockKeys, [token])) === 1;
        } catch {
          return false;
        }
      },
      extend,
    };
  }

  /**
   * A write of `entry` begins on this node (RedisStore.beginWrite): when this node holds the
   * key's lock, the first such write is its fetch's, and is recorded beside the lock for other
   * nodes to follow. Never rejects: unrecorded, the others wait for the commit as before.
   */
  announceWrite(entry: Omit<EntryMeta, 'checksum'>): void {
    const held = this.held.get(entry.key);
    if (held === undefined || held.announced) return;
    held.announced = true;
    const lockKey = this.ctx.keys.lock(hashKey(entry.key));
    announceWrite(this.ctx, lockKey, { token: held.token, entry }).catch(() => undefined);
  }

  /**
   * Until the key's lock holder is writing the key's body — then the caller streams it as it
   * lands — or the lock is gone, or `timeoutMs` passes without the holder renewing the lock.
   * Rejects if Redis fails meanwhile (then the caller fetches by itself).
   */
  follow(key: string, options: WaitOptions): Promise<FollowOutcome> {
    const lockKey = this.ctx.keys.lock(hashKey(key));
    return this.watchLock<FollowOutcome>(key, options, async () => {
      const lock = await lookAtLock(this.ctx, lockKey);
      if (lock === undefined) return { done: { outcome: 'released' } };
      if (lock.staged === undefined) return { expiry: lock.expiry };
      return { done: { outcome: 'write', write: followWrite(this.ctx, lockKey, lock.staged, this.bus) } };
    });
  }

  /** Stops renewing every lock this node holds (the store closes): they expire by themselves. */
  close(): void {
    for (const renewal of this.renewals) clearInterval(renewal);
    this.renewals.clear();
  }

  /** True while some node holds the lock for `key`. */
  async isLocked(key: string): Promise<boolean> {
    const lockKey = this.ctx.keys.lock(hashKey(key));
    return (await this.ctx.gate.run(lockKey, () => this.ctx.client.exists(lockKey))) === 1;
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
  waitForEntry<T>(key: string, check: () => Promise<T | undefined>, options: WaitOptions): Promise<WaitOutcome<T>> {
    const lockKey = this.ctx.keys.lock(hashKey(key));
    return this.watchLock<WaitOutcome<T>>(key, options, async () => {
      const value = await check();
      if (value !== undefined) return { done: { outcome: 'found', value } };
      const lock = await lookAtLock(this.ctx, lockKey);
      if (lock !== undefined) return { expiry: lock.expiry };
      // The holder may have committed and unlocked between the two reads.
      const late = await check();
      return { done: late !== undefined ? { outcome: 'found', value: late } : { outcome: 'released' } };
    });
  }

  /**
   * Looks (`look`) until it says the wait is over, or `timeoutMs` passes without the holder
   * renewing the lock (its fetch is still going while it does): then 'timeout'. Between looks it
   * pauses FIRST_POLL_MS, doubling up to pollMs; bus events for the key wake it earlier.
   */
  private async watchLock<T>(
    key: string,
    options: WaitOptions,
    look: () => Promise<Look<T>>,
  ): Promise<T | { outcome: 'timeout' }> {
    let deadline = Date.now() + options.timeoutMs;
    let seenExpiry: number | undefined;
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    let pause = Math.min(FIRST_POLL_MS, pollMs);
    let wake: (() => void) | undefined;
    const unsubscribe = this.bus?.subscribe(
      (event) => {
        if ((event.kind === 'key' && event.key === key) || event.kind === 'all') wake?.();
      },
      { includeOwn: true },
    );
    try {
      for (;;) {
        const seen = await look();
        if ('done' in seen) return seen.done;
        const { expiry } = seen;
        // Renewed since the last look: the holder's fetch makes progress, so it is worth waiting for.
        if (seenExpiry !== undefined && expiry > seenExpiry + RENEWAL_SEEN_MS) {
          deadline = Math.max(deadline, Date.now() + options.timeoutMs);
        }
        seenExpiry = expiry;
        const left = deadline - Date.now();
        if (left <= 0) return { outcome: 'timeout' };
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(pause, left));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        pause = Math.min(pause * 2, pollMs);
      }
    } finally {
      unsubscribe?.();
    }
  }
}
