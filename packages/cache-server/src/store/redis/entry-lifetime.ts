import type { EntryMeta } from '@simple-cache/common';
import {
  deltaSeconds,
  exactAge,
  forbidsStale,
  freshnessLifetime,
  requiresValidation,
  responseDirectives,
  type PolicyOptions,
} from '../../policy/index.js';

/**
 * How long an entry is worth keeping in Redis, from the policy's own rules (no duplicate of
 * them here): the freshness it has left, then the stale windows in which it may still be
 * served (stale-while-revalidate, stale-if-error, the configured grace — none when the
 * response forbids serving it stale), then a margin in which it can still be revalidated
 * cheaply (a 304 instead of the whole body). Past that, Redis expires it by itself; before
 * that, `maxmemory` with an LRU policy evicts whatever is used least.
 */
export interface LifetimeOptions {
  policy: PolicyOptions;
  /** Kept this long after the stale windows when the entry has a validator (ETag, Last-Modified). */
  revalidationMarginMs: number;
  /** Kept this long after the stale windows otherwise (a request's max-stale may still take it). */
  staleMarginMs: number;
}

export const DEFAULT_REVALIDATION_MARGIN_MS = 60 * 60 * 1000;
export const DEFAULT_STALE_MARGIN_MS = 60 * 1000;

type LifetimeInput = Pick<EntryMeta, 'status' | 'headers' | 'requestTime' | 'responseTime'>;

/** The wall-clock time (ms) until which `entry` is useful. */
export function usefulUntil(entry: LifetimeInput, now: number, options: LifetimeOptions): number {
  const { policy } = options;
  const freshLeft = Math.max(0, freshnessLifetime(entry, policy).lifetime - exactAge(entry, now));
  const margin = hasValidator(entry) ? options.revalidationMarginMs : options.staleMarginMs;
  return now + Math.ceil((freshLeft + staleWindow(entry, policy)) * 1000) + margin;
}

/** Seconds a stale entry may still be served (RFC 5861 §3, §4; RFC 9111 §4.2.4), plus grace. */
export function staleWindow(entry: Pick<EntryMeta, 'headers'>, policy: PolicyOptions): number {
  const directives = responseDirectives(entry.headers, policy);
  if (requiresValidation(directives) || forbidsStale(directives)) return 0;
  const swr = deltaSeconds(directives, 'stale-while-revalidate') ?? 0;
  const sie = deltaSeconds(directives, 'stale-if-error') ?? 0;
  return Math.max(swr, sie + policy.grace);
}

/** RFC 9110 §8.8: a stored response with a validator can be revalidated with a conditional request. */
function hasValidator(entry: Pick<EntryMeta, 'headers'>): boolean {
  return entry.headers['etag'] !== undefined || entry.headers['last-modified'] !== undefined;
}
