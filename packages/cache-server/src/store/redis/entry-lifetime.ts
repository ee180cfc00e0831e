import type { EntryMeta } from '@simple-cache/common';
import {
  deltaSeconds,
  exactAge,
  forbidsStale,
  freshnessLifetime,
  governingDirectives,
  requiresValidation,
  type PolicyOptions,
} from '../../policy/index.js';

/**
 * How long an entry is worth keeping in Redis, from the policy's own rules (no duplicate of
 * them here) and under the policy the entry is used with — the base one plus the operator's
 * rules for its key and status, as the proxy applies them: the freshness it has left, then the
 * stale windows in which it may still be served (stale-while-revalidate, stale-if-error, the
 * configured grace, the disconnected grace — none when the response forbids serving it stale),
 * then a margin in which it can still be revalidated cheaply (a 304 instead of the whole body).
 * Past that, Redis expires it by itself; before that, `maxmemory` with an LRU policy evicts
 * whatever is used least.
 */
export interface LifetimeOptions {
  policy: EntryPolicy;
  /** Kept this long after the stale windows when the entry has a validator (ETag, Last-Modified). */
  revalidationMarginMs: number;
  /** Kept this long after the stale windows otherwise (a request's max-stale may still take it). */
  staleMarginMs: number;
}

/**
 * The policy a stored entry is used under: with rules (issue 14) a ttl, a grace or a stale
 * window may be the operator's for this key and status, not the response's. Asked on every
 * write, so a reloaded rule counts from the next write or 304 of the entry on.
 */
export type EntryPolicy = (entry: Pick<EntryMeta, 'key' | 'status'>) => Readonly<PolicyOptions>;

export const DEFAULT_REVALIDATION_MARGIN_MS = 60 * 60 * 1000;
export const DEFAULT_STALE_MARGIN_MS = 60 * 1000;

type LifetimeInput = Pick<EntryMeta, 'key' | 'status' | 'headers' | 'requestTime' | 'responseTime'>;

/** The wall-clock time (ms) until which `entry` is useful. */
export function usefulUntil(entry: LifetimeInput, now: number, options: LifetimeOptions): number {
  const policy = options.policy(entry);
  const freshLeft = Math.max(0, freshnessLifetime(entry, policy).lifetime - exactAge(entry, now));
  const margin = hasValidator(entry) ? options.revalidationMarginMs : options.staleMarginMs;
  return now + Math.ceil((freshLeft + staleWindow(entry, policy)) * 1000) + margin;
}

/**
 * Seconds a stale entry may still be served: the largest of the windows policy/use.ts grants
 * (RFC 5861 §3 stale-while-revalidate, §4 stale-if-error plus grace; a rule's window replaces
 * the response's), and the disconnected grace (RFC 9111 §4.2.4: an origin that cannot be
 * reached at all), which is the longest by default (a day): an outage must find the entry
 * still here, as the disk store would have it. None when the response forbids stale serving.
 */
export function staleWindow(entry: Pick<EntryMeta, 'headers'>, policy: Readonly<PolicyOptions>): number {
  const directives = governingDirectives(entry.headers, policy);
  if (requiresValidation(directives) || forbidsStale(directives)) return 0;
  const swr = policy.staleWhileRevalidate ?? deltaSeconds(directives, 'stale-while-revalidate') ?? 0;
  const sie = policy.staleIfError ?? deltaSeconds(directives, 'stale-if-error') ?? 0;
  return Math.max(swr, sie + policy.grace, policy.disconnectedGrace);
}

/** A fixed policy for every entry (no rules): the store's option accepts either. */
export function entryPolicyOf(policy: Readonly<PolicyOptions> | EntryPolicy): EntryPolicy {
  return typeof policy === 'function' ? policy : () => policy;
}

/** RFC 9110 §8.8: a stored response with a validator can be revalidated with a conditional request. */
function hasValidator(entry: Pick<EntryMeta, 'headers'>): boolean {
  return entry.headers['etag'] !== undefined || entry.headers['last-modified'] !== undefined;
}
