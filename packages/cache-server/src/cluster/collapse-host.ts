import type { Bus } from './bus.js';
import {
  OP,
  type AcquireArgs,
  type FollowAnswer,
  type FollowArgs,
  type ReleaseArgs,
  type WriteBegin,
  type WriteEnd,
  type WriteProgressEvent,
} from './protocol.js';

interface Lock {
  owner: Bus;
  token: number;
  timer: NodeJS.Timeout;
}

interface Write extends WriteBegin {
  owner: Bus;
  bytes: number;
  followers: Set<Bus>;
}

/**
 * Collapsing across workers, the primary's side: one lock per key (who fetches it), and the
 * writes in progress (what another worker can follow while it is being written). A worker that
 * misses a key takes its lock; one that cannot waits here until the lock holder begins writing
 * the body (then it follows the write), the lock goes, or its time is up. The same contract as
 * the Redis locks (store/redis/lock.ts), with the lock held in memory and dropped at once when
 * its holder dies.
 */
export class CollapseHost {
  private readonly locks = new Map<string, Lock>();
  private readonly writes = new Map<string, Write>();
  /** Woken whenever a key's lock goes or a write of it begins. */
  private readonly watchers = new Map<string, Set<() => void>>();
  private nextToken = 1;
  private waiting = 0;

  /** Serves one worker. Returns what to do when it is gone. */
  attach(bus: Bus): () => void {
    bus.handle<AcquireArgs, number | null>(OP.acquire, ({ key, ttlMs }) => this.acquire(bus, key, ttlMs));
    bus.handle<ReleaseArgs, boolean>(OP.release, ({ key, token }) => this.release(key, token));
    bus.handle<FollowArgs & { write?: boolean }, FollowAnswer>(OP.follow, (args) => this.follow(bus, args));
    bus.on<WriteBegin>(OP.writeBegin, (begin) => this.begin(bus, begin));
    bus.on<WriteProgressEvent>(OP.writeProgress, ({ writeId, bytes }) => this.progress(writeId, bytes));
    bus.on<WriteEnd>(OP.writeEnd, (end) => this.end(end));
    return () => this.detach(bus);
  }

  /** What `<prefix>/workers` shows: keys being fetched by a worker, and workers waiting on one of them. */
  stats(): { locks: number; waiting: number } {
    return { locks: this.locks.size, waiting: this.waiting };
  }

  private acquire(owner: Bus, key: string, ttlMs: number): number | null {
    if (this.locks.has(key)) return null;
    const token = this.nextToken++;
    // Like the Redis lock's PX: a holder that never releases (stuck, not dead) frees it in time.
    const timer = setTimeout(() => this.release(key, token), ttlMs);
    timer.unref();
    this.locks.set(key, { owner, token, timer });
    return token;
  }

  private release(key: string, token: number): boolean {
    const lock = this.locks.get(key);
    if (lock?.token !== token) return false;
    clearTimeout(lock.timer);
    this.locks.delete(key);
    this.wake(key);
    return true;
  }

  /**
   * Until the key's lock holder is writing the body (with `write`: then the caller follows it),
   * the lock is gone, or `timeoutMs` passes.
   */
  private async follow(follower: Bus, args: FollowArgs & { write?: boolean }): Promise<FollowAnswer> {
    this.waiting++;
    try {
      return await this.waitFor(follower, args);
    } finally {
      this.waiting--;
    }
  }

  private async waitFor(follower: Bus, args: FollowArgs & { write?: boolean }): Promise<FollowAnswer> {
    const { key, timeoutMs } = args;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const lock = this.locks.get(key);
      if (!lock) return { outcome: 'released' };
      const write = args.write === false ? undefined : this.writeOf(lock.owner, key);
      if (write) {
        write.followers.add(follower);
        // The writer reports its progress only once someone follows.
        if (write.followers.size === 1) write.owner.notify(OP.writeFollowed, { writeId: write.writeId });
        const { writeId, tmpPath, entry, bytes } = write;
        return { outcome: 'write', writeId, tmpPath, entry, bytes };
      }
      const left = deadline - performance.now();
      if (left <= 0 || !(await this.changeOf(key, left))) return { outcome: 'timeout' };
    }
  }

  private writeOf(owner: Bus, key: string): Write | undefined {
    for (const write of this.writes.values()) if (write.owner === owner && write.key === key) return write;
    return undefined;
  }

  private begin(owner: Bus, begin: WriteBegin): void {
    this.writes.set(begin.writeId, { ...begin, owner, bytes: 0, followers: new Set() });
    this.wake(begin.key);
  }

  private progress(writeId: string, bytes: number): void {
    const write = this.writes.get(writeId);
    if (!write) return;
    write.bytes = bytes;
    for (const follower of write.followers) follower.notify(OP.writeProgress, { writeId, bytes });
  }

  private end(end: WriteEnd): void {
    const write = this.writes.get(end.writeId);
    if (!write) return;
    this.writes.delete(end.writeId);
    for (const follower of write.followers) follower.notify(OP.writeEnd, end);
  }

  /** A worker is gone: its locks go, and whoever followed its writes learns they failed. */
  private detach(bus: Bus): void {
    for (const [key, lock] of this.locks) if (lock.owner === bus) this.release(key, lock.token);
    for (const write of [...this.writes.values()]) {
      if (write.owner === bus) this.end({ writeId: write.writeId, entry: null });
      else write.followers.delete(bus);
    }
  }

  /** Resolves true when the key's lock goes or a write of it begins, false after `ms`. */
  private changeOf(key: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      let set = this.watchers.get(key);
      if (!set) this.watchers.set(key, (set = new Set()));
      const watchers = set;
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        watchers.delete(wake);
        if (watchers.size === 0) this.watchers.delete(key);
        resolve(false);
      }, ms);
      watchers.add(wake);
    });
  }

  private wake(key: string): void {
    const watchers = this.watchers.get(key);
    if (!watchers) return;
    this.watchers.delete(key);
    for (const wake of watchers) wake();
  }
}
