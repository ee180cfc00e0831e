import type { EntryMeta } from '@simple-cache/common';
import { exactAge, freshnessLifetime } from './freshness.js';
import type { PolicyOptions } from './types.js';

/**
 * A soft purge (Fastly's name): the entry becomes stale now but stays stored, so the next
 * request revalidates it (a cheap 304 when it has validators), stale-while-revalidate and
 * stale-if-error still apply, and an origin outage is still covered.
 *
 * Done through the Age field, the one input of the age calculation (RFC 9111 §4.2.3) that
 * changes nothing else: the stored Age is raised until the current age reaches the freshness
 * lifetime exactly, so the entry is stale by zero seconds and every stale window starts now.
 * A 304 or a new response replaces the stored Age (validation.ts), so the entry is fresh again
 * after the next validation. Undefined when the entry is already stale.
 */
export function markStale(entry: EntryMeta, now: number, opts: PolicyOptions): EntryMeta | undefined {
  const { lifetime } = freshnessLifetime(entry, opts);
  if (exactAge(entry, now) >= lifetime) return undefined;
  const residentTime = Math.max(0, now - entry.responseTime) / 1000;
  const responseDelay = Math.max(0, entry.responseTime - entry.requestTime) / 1000;
  // corrected_age_value = Age + response_delay; this makes it the largest term, reaching lifetime.
  const age = Math.max(0, Math.ceil(lifetime - residentTime - responseDelay));
  return { ...entry, headers: { ...entry.headers, age: String(age) } };
}
