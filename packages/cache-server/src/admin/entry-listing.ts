import type { EntryMeta } from '@simple-cache/common';
import { readField } from '../policy/cache-control.js';
import { currentAge, freshnessLifetime } from '../policy/freshness.js';
import type { PolicyOptions } from '../policy/types.js';
import { tagsOf } from './tags.js';
import { pathOfKey } from './target.js';

/** One stored variant as the entries API and the dashboard show it. */
export interface EntrySummary {
  key: string;
  /** The key without the origin: what a client requests. */
  path: string;
  variant: string;
  status: number;
  contentType: string;
  size: number;
  /** Seconds (RFC 9111 §4.2.3). */
  age: number;
  /** Freshness left, seconds; negative when stale. */
  ttl: number;
  hits: number;
  /** Unix ms, or null when never served from the cache. */
  lastAccess: number | null;
  /** When the stored response arrived, Unix ms. */
  storedAt: number;
  tags: string[];
  /** For a part (a stored 206, RFC 9111 §3.3): the bytes it holds of the complete length; null otherwise. */
  part: { start: number; end: number; length: number } | null;
}

export const ENTRY_SORTS = ['hits', 'size', 'age', 'recent', 'key'] as const;
export type EntrySort = (typeof ENTRY_SORTS)[number];

export interface EntryQuery {
  /** Keep keys starting with this (a normalised key prefix). */
  prefix?: string;
  tag?: string;
  sort: EntrySort;
  offset: number;
  limit: number;
}

export interface EntryPage {
  total: number;
  offset: number;
  limit: number;
  items: EntrySummary[];
}

export function summarizeEntry(
  entry: EntryMeta,
  context: { origin: string; now: number; policy: PolicyOptions; tagHeaders: readonly string[] },
): EntrySummary {
  const age = currentAge(entry, context.now);
  return {
    key: entry.key,
    path: pathOfKey(context.origin, entry.key),
    variant: entry.variant,
    status: entry.status,
    contentType: readField(entry.headers, 'content-type') ?? '',
    size: entry.size,
    age,
    ttl: freshnessLifetime(entry, context.policy).lifetime - age,
    hits: entry.hits ?? 0,
    lastAccess: entry.lastAccess ?? null,
    storedAt: entry.responseTime,
    tags: tagsOf(entry.headers, context.tagHeaders),
    part: entry.part ? { start: entry.part.start, end: entry.part.end, length: entry.part.length } : null,
  };
}

const COMPARE: Record<EntrySort, (a: EntrySummary, b: EntrySummary) => number> = {
  hits: (a, b) => b.hits - a.hits,
  size: (a, b) => b.size - a.size,
  age: (a, b) => b.age - a.age,
  recent: (a, b) => (b.lastAccess ?? b.storedAt) - (a.lastAccess ?? a.storedAt),
  key: () => 0,
};

/** Filters, sorts (ties and `key` by key, then variant, so pages are stable) and cuts one page. */
export function listEntries(summaries: EntrySummary[], query: EntryQuery): EntryPage {
  const { prefix, tag } = query;
  const kept = summaries.filter(
    (entry) =>
      (prefix === undefined || entry.key.startsWith(prefix)) && (tag === undefined || entry.tags.includes(tag)),
  );
  const compare = COMPARE[query.sort];
  kept.sort((a, b) => compare(a, b) || byKey(a, b));
  return {
    total: kept.length,
    offset: query.offset,
    limit: query.limit,
    items: kept.slice(query.offset, query.offset + query.limit),
  };
}

function byKey(a: EntrySummary, b: EntrySummary): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0;
}
