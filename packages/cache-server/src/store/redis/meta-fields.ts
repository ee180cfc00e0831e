import type { EntryMeta } from '@simple-cache/common';
import type { LiveVariant } from './meta-cache.js';

/**
 * A key's meta hash ↔ its variants (the field layout is described in redis-scripts.ts). Hits
 * and last access live in their own fields so that counting a hit is one HINCRBY, not a
 * rewrite of the JSON.
 */

/** The JSON stored in `m:<variant>`: everything but the counters, which have their own fields. */
export function serializeMeta(meta: EntryMeta): string {
  const { hits: _hits, lastAccess: _lastAccess, ...rest } = meta;
  return JSON.stringify(rest);
}

/**
 * The variants still useful at `now`, with their counters. A field that does not parse, or
 * belongs to another key than `key` (a sha256 collision), is left out: a miss, which the next
 * write of that variant repairs.
 */
export function parseMetaHash(hash: Record<string, string>, now: number, key?: string): EntryMeta[] {
  return parseLiveVariants(hash, now, key).map((variant) => variant.meta);
}

/** parseMetaHash, with each variant's useful-until time (what a node's meta cache needs). */
export function parseLiveVariants(hash: Record<string, string>, now: number, key?: string): LiveVariant[] {
  const variants: LiveVariant[] = [];
  for (const [field, json] of Object.entries(hash)) {
    if (!field.startsWith('m:')) continue;
    const variant = field.slice(2);
    const usefulUntil = Number(hash[`t:${variant}`]);
    if (!(usefulUntil > now)) continue;
    const meta = parseJson(json);
    if (
      meta === undefined ||
      (key !== undefined && meta.key !== key) ||
      meta.variant !== variant ||
      meta.bodyId !== hash[`b:${variant}`]
    ) {
      continue;
    }
    const hits = hash[`h:${variant}`];
    const lastAccess = hash[`a:${variant}`];
    if (hits !== undefined) meta.hits = Number(hits);
    if (lastAccess !== undefined) meta.lastAccess = Number(lastAccess);
    const indexedAs = hash[`x:${variant}`];
    variants.push(indexedAs === undefined ? { meta, usefulUntil } : { meta, usefulUntil, indexedAs });
  }
  return variants;
}

function parseJson(json: string): EntryMeta | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return isEntryMeta(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isEntryMeta(value: unknown): value is EntryMeta {
  if (typeof value !== 'object' || value === null) return false;
  const meta = value as Partial<EntryMeta>;
  return (
    typeof meta.key === 'string' &&
    typeof meta.variant === 'string' &&
    typeof meta.bodyId === 'string' &&
    typeof meta.size === 'number' &&
    typeof meta.status === 'number' &&
    typeof meta.headers === 'object' &&
    Array.isArray(meta.vary)
  );
}
