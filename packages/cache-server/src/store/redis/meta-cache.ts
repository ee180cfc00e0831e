import type { EntryMeta } from '@simple-cache/common';
import { LRUCache } from 'lru-cache';

/** A variant as Redis holds it, with the time (ms) until which it is kept (`t:<variant>`). */
export interface LiveVariant {
  meta: EntryMeta;
  usefulUntil: number;
  /** The incarnations of the purge indexes it was written into (`x:<variant>`, entry-index.ts). */
  indexedAs?: string;
}

interface Held {
  /** Wall clock (ms) when Redis was asked. */
  askedAt: number;
  live: LiveVariant[];
  /** The metas of `live`, the same objects every time (the fast path memoises by identity). */
  view: readonly EntryMeta[];
  /** The earliest usefulUntil: the view is rebuilt once it passes. */
  until: number;
}

/** A lookup on its way to Redis; an invalidation of its key meanwhile keeps its answer out. */
export interface Fill {
  readonly key: string;
  readonly askedAt: number;
  tainted: boolean;
}

/**
 * The node's own copy of the metadata of hot keys, so that a hit needs no Redis round trip. It
 * is only as good as the invalidation bus that keeps it current: the store asks it only while
 * the bus has recently proven it delivers every change (InvalidationBus.confirmedAt), and drops
 * a key whenever a change of it is announced. A lookup that raced such a change (sent before,
 * answered after) is not kept: its answer may predate the change. Changes no message announces
 * (an operator's DEL or FLUSHALL in Redis, not the purge endpoints) are seen once a key's copy is
 * `maxAgeMs` old: then Redis is asked again.
 */
export class MetaCache {
  private readonly held: LRUCache<string, Held>;
  private readonly fills = new Map<string, Set<Fill>>();

  constructor(
    maxKeys: number,
    private readonly maxAgeMs: number,
  ) {
    this.held = new LRUCache({ max: maxKeys });
  }

  /** The key's variants still useful at `now`, the same objects every call; undefined when not held. */
  peek(key: string, now: number): readonly EntryMeta[] | undefined {
    let entry = this.held.get(key);
    if (entry === undefined) return undefined;
    if (now - entry.askedAt > this.maxAgeMs) {
      this.held.delete(key);
      return undefined;
    }
    if (now >= entry.until) {
      const live = entry.live.filter((variant) => variant.usefulUntil > now);
      if (live.length === 0) {
        this.held.delete(key);
        return undefined;
      }
      entry = describe(entry.askedAt, live);
      this.held.set(key, entry);
    }
    return entry.view;
  }

  /** A lookup of `key` asks Redis at `now`; pass its answer to end(). */
  begin(key: string, now: number): Fill {
    const fill: Fill = { key, askedAt: now, tainted: false };
    let set = this.fills.get(key);
    if (set === undefined) this.fills.set(key, (set = new Set()));
    set.add(fill);
    return fill;
  }

  /** The lookup is answered (`live`: what Redis holds; undefined when it failed). Keeps it unless tainted. */
  end(fill: Fill, live: LiveVariant[] | undefined): void {
    const set = this.fills.get(fill.key);
    set?.delete(fill);
    if (set?.size === 0) this.fills.delete(fill.key);
    if (live === undefined || fill.tainted || live.length === 0) return;
    this.held.set(fill.key, describe(fill.askedAt, live));
  }

  /** A change of `key` was announced (or made here). */
  invalidate(key: string): void {
    this.held.delete(key);
    for (const fill of this.fills.get(key) ?? []) fill.tainted = true;
  }

  /** A purge by prefix. */
  invalidatePrefix(prefix: string): void {
    for (const key of [...this.held.keys()]) if (key.startsWith(prefix)) this.held.delete(key);
    for (const [key, fills] of this.fills) if (key.startsWith(prefix)) for (const fill of fills) fill.tainted = true;
  }

  /** Everything (a purge of all or by tag, a resync after a lost connection). */
  clear(): void {
    this.held.clear();
    for (const fills of this.fills.values()) for (const fill of fills) fill.tainted = true;
  }

  get size(): number {
    return this.held.size;
  }
}

function describe(askedAt: number, live: LiveVariant[]): Held {
  return {
    askedAt,
    live,
    view: Object.freeze(live.map((variant) => variant.meta)),
    until: Math.min(...live.map((variant) => variant.usefulUntil)),
  };
}
