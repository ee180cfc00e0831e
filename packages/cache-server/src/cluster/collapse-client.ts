import { open, type FileHandle } from 'node:fs/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { CrossNodeCollapse, CrossNodeLock, FollowedWrite } from '../proxy/context.js';
import type { Bus } from './bus.js';
import { OP, type FollowAnswer, type WriteEnd, type WriteProgressEvent } from './protocol.js';
import { TailReader } from './tail-reader.js';

/** Writes whose events came before this worker registered as their follower, kept this long at most. */
const MAX_EARLY = 64;
/** Follows at most this many times in a row a write that was gone before its file could be opened. */
const MAX_FOLLOW_ATTEMPTS = 3;

/**
 * Collapsing across workers, a worker's side (the primary's is collapse-host.ts): the same
 * CrossNodeCollapse contract as the Redis locks, plus `follow`, which streams the lock holder's
 * write to this worker's clients as it lands instead of waiting for the commit.
 */
export function createCollapseClient(bus: Bus): CrossNodeCollapse {
  const followed = new Map<string, Following>();
  /**
   * Node emits each IPC message on its own process.nextTick, and all of them before the promise
   * jobs they queue: the progress that follows a follow's answer can arrive before the code
   * awaiting that answer runs. So a write not yet followed here keeps what arrived for it.
   */
  const early = new Map<string, Following>();
  const followingOf = (writeId: string) => {
    let following = followed.get(writeId) ?? early.get(writeId);
    if (!following) {
      following = new Following(0);
      early.set(writeId, following);
      if (early.size > MAX_EARLY) early.delete(early.keys().next().value as string);
    }
    return following;
  };
  bus.on<WriteProgressEvent>(OP.writeProgress, ({ writeId, bytes }) => followingOf(writeId).grow(bytes));
  bus.on<WriteEnd>(OP.writeEnd, ({ writeId, entry }) => {
    const following = followingOf(writeId);
    followed.delete(writeId);
    following.end(entry ?? undefined);
  });

  async function acquire(key: string, ttlMs: number): Promise<CrossNodeLock | undefined> {
    const token = await bus.request<number | null>(OP.acquire, { key, ttlMs });
    if (token === null) return undefined;
    return { release: () => bus.request<boolean>(OP.release, { key, token }).catch(() => false) };
  }

  const collapse: CrossNodeCollapse = {
    acquire,

    async waitForEntry(key, check, { timeoutMs }) {
      const answer = await bus.request<FollowAnswer>(OP.follow, { key, timeoutMs, write: false });
      // A commit reaches this worker before the lock's release does (the channel is ordered).
      const value = await check();
      if (value !== undefined) return { outcome: 'found', value };
      return answer.outcome === 'timeout' ? { outcome: 'timeout' } : { outcome: 'released' };
    },

    async follow(key, { timeoutMs }) {
      const deadline = performance.now() + timeoutMs;
      for (let attempt = 0; attempt < MAX_FOLLOW_ATTEMPTS; attempt++) {
        const left = Math.max(0, deadline - performance.now());
        const answer = await bus.request<FollowAnswer>(OP.follow, { key, timeoutMs: left, write: true });
        if (answer.outcome !== 'write') return answer;
        const following = early.get(answer.writeId) ?? new Following(0);
        early.delete(answer.writeId);
        following.grow(answer.bytes);
        // Listening before the file is open: progress sent meanwhile must not be lost.
        if (!following.hasEnded) followed.set(answer.writeId, following);
        const handle = await open(answer.tmpPath, 'r').catch(() => undefined);
        if (handle === undefined) {
          // Renamed into place (or deleted) before we got to it: ask again, the lock says what became of it.
          followed.delete(answer.writeId);
          continue;
        }
        const write: FollowedWrite = {
          entry: answer.entry,
          body: following.read(handle),
          committed: following.committed,
        };
        return { outcome: 'write', write };
      }
      return { outcome: 'timeout' };
    },
  };
  return collapse;
}

/** One followed write: what its writer has reported, whether or not its file is open yet. */
class Following {
  readonly committed: Promise<EntryMeta | undefined>;
  private settle: (entry: EntryMeta | undefined) => void = () => undefined;
  private reader: TailReader | undefined;
  private ended = false;
  private size: number | undefined;

  constructor(private bytes: number) {
    this.committed = new Promise((resolve) => (this.settle = resolve));
  }

  get hasEnded(): boolean {
    return this.ended;
  }

  /** The body, read from `handle` as the writer reports it written. */
  read(handle: FileHandle): TailReader {
    this.reader = new TailReader(handle, this.bytes);
    if (this.ended) this.reader.end(this.size);
    return this.reader;
  }

  grow(bytes: number): void {
    this.bytes = Math.max(this.bytes, bytes);
    this.reader?.grow(bytes);
  }

  end(entry: EntryMeta | undefined): void {
    this.ended = true;
    this.size = entry?.size;
    this.reader?.end(entry?.size);
    this.settle(entry);
  }
}
