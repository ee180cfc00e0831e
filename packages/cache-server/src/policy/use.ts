import { deltaSeconds, requestDirectives, responseDirectives, type Directives } from './cache-control.js';
import { currentAge, exactAge, freshnessLifetime, isFresh } from './freshness.js';
import type { EntryMeta, PolicyOptions, RequestView, UseDecision } from './types.js';

type Action = UseDecision['action'];

/**
 * What to do with `entry` (already the request's variant) for `req` at `now` (ms), RFC 9111 §4.
 * Order: things that forbid reuse outright, then things that demand validation (response
 * no-cache, request no-cache / max-age / min-fresh), then freshness, then the ways a stale entry
 * may still be served (stale-while-revalidate, request max-stale) unless the response forbids
 * serving it stale.
 *
 * `immutable` (RFC 8246 §2): the response will not change while fresh, so a plain reload
 * (request max-age=0) is answered from the cache; a force reload (no-cache) still revalidates,
 * and a stale immutable response is revalidated like any other.
 */
export function decideUse(req: RequestView, entry: EntryMeta, now: number, opts: PolicyOptions): UseDecision {
  const response = responseDirectives(entry.headers, opts.targetedField);
  const request = requestDirectives(req.headers);
  const { lifetime } = freshnessLifetime(entry, opts);
  const age = currentAge(entry, now);
  const ttl = lifetime - age;
  const decide = (action: Action, reason: string): UseDecision => ({ action, age, ttl, reason });

  // RFC 9111 §4.1: Vary: * never matches.
  if (entry.vary.includes('*')) return decide('unusable', 'vary-star');
  if (requiresValidation(response)) return decide('revalidate', 'response-no-cache');
  if (request.has('no-cache')) return decide('revalidate', 'request-no-cache');
  const immutable = isImmutableWhileFresh(response, lifetime, age);
  if (!immutable && exceedsRequestMaxAge(request, exactAge(entry, now))) {
    return decide('revalidate', 'request-max-age');
  }
  if (failsMinFresh(request, ttl)) return decide('revalidate', 'request-min-fresh');
  if (isFresh(lifetime, age)) return decide('fresh', immutable && request.has('max-age') ? 'immutable' : 'fresh');
  if (forbidsStale(response)) return decide('revalidate', 'stale-forbidden');
  if (isStaleWithinSwr(response, ttl)) return decide('stale-while-revalidate', 'stale-while-revalidate');
  if (isStaleWithinMaxStale(request, ttl)) return decide('fresh', 'request-max-stale');
  return decide('revalidate', 'stale');
}

/** RFC 9111 §5.2.1.7: the client wants a stored response or a 504, never a trip to the origin. */
export function isOnlyIfCached(req: RequestView): boolean {
  return requestDirectives(req.headers).has('only-if-cached');
}

/**
 * May the stale `entry` answer `req` because the origin failed (error status or unreachable)?
 * RFC 5861 §4: within the larger stale-if-error window of the response and the request, plus
 * `opts.grace`; never when the response forbids serving it stale (RFC 9111 §4.2.4).
 */
export function mayServeStaleOnError(req: RequestView, entry: EntryMeta, now: number, opts: PolicyOptions): boolean {
  const response = responseDirectives(entry.headers, opts.targetedField);
  if (requiresValidation(response) || forbidsStale(response)) return false;
  const ttl = freshnessLifetime(entry, opts).lifetime - currentAge(entry, now);
  return ttl > 0 || isStaleWithin(ttl, staleIfErrorWindow(response, requestDirectives(req.headers)) + opts.grace);
}

/** RFC 9111 §5.2.2.4: bare no-cache demands validation on every use; no-cache="fields" does not. */
export function requiresValidation(response: Directives): boolean {
  return response.get('no-cache') === true;
}

/**
 * RFC 9111 §5.2.2.2 must-revalidate, §5.2.2.8 proxy-revalidate, §5.2.2.10 s-maxage (which
 * implies proxy-revalidate for shared caches): a stale entry must be validated first, whatever
 * the client accepts.
 */
export function forbidsStale(response: Directives): boolean {
  return response.has('must-revalidate') || response.has('proxy-revalidate') || response.has('s-maxage');
}

/** RFC 8246 §2: immutable and still fresh, so validating it cannot change anything. */
export function isImmutableWhileFresh(response: Directives, lifetime: number, age: number): boolean {
  return response.has('immutable') && isFresh(lifetime, age);
}

/** RFC 5861 §3: stale by no more than the stale-while-revalidate window. */
export function isStaleWithinSwr(response: Directives, ttl: number): boolean {
  return isStaleWithin(ttl, deltaSeconds(response, 'stale-while-revalidate') ?? 0);
}

/** RFC 9111 §5.2.1.2: bare max-stale accepts any staleness; with a value, up to that many seconds. */
export function isStaleWithinMaxStale(request: Directives, ttl: number): boolean {
  if (request.get('max-stale') === true) return true;
  return isStaleWithin(ttl, deltaSeconds(request, 'max-stale') ?? 0);
}

/** Stale (ttl ≤ 0) by at most `window` seconds; a zero window allows nothing. */
function isStaleWithin(ttl: number, window: number): boolean {
  return window > 0 && -ttl <= window;
}

/**
 * RFC 9111 §5.2.1.1: the client wants an age no greater than max-age. Compared with the exact
 * age, so max-age=0 (a reload) revalidates unless the entry arrived this very instant.
 */
function exceedsRequestMaxAge(request: Directives, exactAgeSeconds: number): boolean {
  const maxAge = deltaSeconds(request, 'max-age');
  return maxAge !== undefined && exactAgeSeconds > maxAge;
}

/** RFC 9111 §5.2.1.3: the client wants at least min-fresh seconds of freshness left. */
function failsMinFresh(request: Directives, ttl: number): boolean {
  const minFresh = deltaSeconds(request, 'min-fresh');
  return minFresh !== undefined && ttl < minFresh;
}

function staleIfErrorWindow(response: Directives, request: Directives): number {
  return Math.max(deltaSeconds(response, 'stale-if-error') ?? 0, deltaSeconds(request, 'stale-if-error') ?? 0);
}
