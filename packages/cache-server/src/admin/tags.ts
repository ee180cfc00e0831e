import type { HeaderMap } from '@simple-cache/common';

/**
 * Purge tags of a stored response: the values of every tag header (`--tag-header`, e.g.
 * Surrogate-Key and Cache-Tag), split on spaces (Fastly's Surrogate-Key) and commas
 * (Cloudflare's Cache-Tag). Case-sensitive, as both CDNs treat them; duplicates removed.
 */
export function tagsOf(headers: HeaderMap, tagHeaders: readonly string[]): string[] {
  const tags = new Set<string>();
  for (const name of tagHeaders) {
    const value = headers[name.toLowerCase()];
    if (value === undefined) continue;
    for (const line of Array.isArray(value) ? value : [value]) {
      for (const tag of line.split(/[\s,]+/)) if (tag !== '') tags.add(tag);
    }
  }
  return [...tags];
}
