import { deltaSeconds, requestDirectives, type Directives } from './cache-control.js';
import { governingDirectives } from './response-control.js';
import { ageAt, currentAge, freshnessLifetime, initialAge, isFresh } from './freshness.js';
import { forbidsSharedStorage, forbidsStale, requiresValidation } from './response-demands.js';
import type { EntryMeta, FreshnessSource, PolicyOptions, RequestView, UseDecision } from './types.js';

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
  return decideUseFrom(requestDirectives(req.headers), useFacts(entry, opts), now);
}

/**
 * What `decideUse` reads from a stored response: nothing here changes while it stays stored, so
 * a hot path computes it once per stored response (proxy/fast-hit.ts) and only the arithmetic of
 * `decideUseFrom` runs per request.
 */
export interface UseFacts {
  /** RFC 9111 §4.1: Vary: * never matches. */
  varyStar: boolean;
  /** Bare response no-cache (§5.2.2.4). */
  noCache: boolean;
  /** RFC 8246 immutable. */
  immutable: boolean;
  /** must-revalidate, proxy-revalidate or s-maxage (§4.2.4). */
  staleForbidden: boolean;
  /** stale-while-revalidate window, seconds (RFC 5861 §3); 0 = none. */
  swrWindow: number;
  /** Freshness lifetime, seconds (§4.2.1). */
  lifetime: number;
  /** Where the lifetime came from (the response, a heuristic, or a rule). */
  source: FreshnessSource;
  /**
   * The stored response says no-store or private and nothing forces it any more (a rule's force
   * was taken away by a reload, or a 304 brought the directive): it is not used (RFC 9111 §3).
   */
  notShareable: boolean;
  /** Corrected initial age, seconds (§4.2.3). */
  initialAge: number;
  responseTime: number;
}

export function useFacts(entry: EntryMeta, opts: PolicyOptions): UseFacts {
  const response = governingDirectives(entry.headers, opts);
  const { lifetime, source } = freshnessLifetime(entry, opts);
  return {
    varyStar: entry.vary.includes('*'),
    noCache: requiresValidation(response),
    immutable: response.has('immutable'),
    staleForbidden: forbidsStale(response),
    // A rule's stale-while-revalidate replaces the response's (RFC 5861 §3).
    swrWindow: opts.staleWhileRevalidate ?? deltaSeconds(response, 'stale-while-revalidate') ?? 0,
    lifetime,
    source,
    notShareable: forbidsSharedStorage(entry.status, response),
    initialAge: initialAge(entry),
    responseTime: entry.responseTime,
  };
}

/** A request without Cache-Control or Pragma: what the fast path passes to `decideUseFrom` (never mutated). */
export const NO_REQUEST_DIRECTIVES: Directives = new Map();

/**
 * The current age in whole seconds (RFC 9111 §4.2.3) of the stored response `facts` describe.
 * Without request directives (NO_REQUEST_DIRECTIVES), `decideUseFrom` depends on `now` only
 * through this: a request max-age is the one rule that reads the exact age.
 */
export function ageOf(facts: UseFacts, now: number): number {
  return Math.floor(ageAt(facts.initialAge, facts.responseTime, now));
}

/** `decideUse` with the request's directives parsed and the stored response's facts known. */
export function decideUseFrom(request: Directives, facts: UseFacts, now: number): UseDecision {
  const exact = ageAt(facts.initialAge, facts.responseTime, now);
  const lifetime = facts.lifetime;
  const age = Math.floor(exact);
  const ttl = lifetime - age;
  const [action, reason] = useFor(request, facts, exact, age, ttl);
  return { action, age, ttl, reason, source: facts.source };
}

function useFor(request: Directives, facts: UseFacts, exact: number, age: number, ttl: number): [Action, string] {
  const { lifetime } = facts;
  if (facts.varyStar) return ['unusable', 'vary-star'];
  if (facts.notShareable) return ['unusable', 'not-shareable'];
  if (facts.noCache) return ['revalidate', 'response-no-cache'];
  if (request.has('no-cache')) return ['revalidate', 'request-no-cache'];
  const immutable = facts.immutable && isFresh(lifetime, age);
  if (!immutable && exceedsRequestMaxAge(request, exact)) return ['revalidate', 'request-max-age'];
  if (failsMinFresh(request, ttl)) return ['revalidate', 'request-min-fresh'];
  if (isFresh(lifetime, age)) return ['fresh', immutable && request.has('max-age') ? 'immutable' : 'fresh'];
  if (facts.staleForbidden) return ['revalidate', 'stale-forbidden'];
  if (isStaleWithin(ttl, facts.swrWindow)) return ['stale-while-revalidate', 'stale-while-revalidate'];
  if (isStaleWithinMaxStale(request, ttl)) return ['fresh', 'request-max-stale'];
  return ['revalidate', 'stale'];
}

/** RFC 9111 §5.2.1.7: the client wants a stored response or a 504, never a trip to the origin. */
export function isOnlyIfCached(req: RequestView): boolean {
  return requestDirectives(req.headers).has('only-if-cached');
}

/**
 * How the origin failed: it answered, with an error status (5xx) or a response that could not be
 * read; or it could not be reached at all (connection refused or dropped before a response head,
 * or no answer in time), which RFC 9111 §4.2.4 calls being disconnected.
 */
export type OriginFailure = 'error-status' | 'disconnected';

/**
 * May the stale `entry` answer `req` because the origin failed? Never when the response forbids
 * serving it stale (RFC 9111 §4.2.4: no-cache, must-revalidate, proxy-revalidate, s-maxage), nor
 * when it says a shared cache must not keep it and no rule forces it. Otherwise within the larger
 * stale-if-error window of the response (or a rule's, which replaces it) and the request, plus
 * `opts.grace` (RFC 5861 §4; grace is the operator's out-of-band permission); and when the cache
 * is disconnected from the origin, at least `opts.disconnectedGrace` (RFC 9111 §4.2.4 lets a
 * disconnected cache serve stale without any permission; a 5xx is an answer, not a disconnection).
 */
export function mayServeStaleOnError(
  req: RequestView,
  entry: EntryMeta,
  now: number,
  opts: PolicyOptions,
  failure: OriginFailure,
): boolean {
  const response = governingDirectives(entry.headers, opts);
  if (requiresValidation(response) || forbidsStale(response) || forbidsSharedStorage(entry.status, response)) {
    return false;
  }
  const ttl = freshnessLifetime(entry, opts).lifetime - currentAge(entry, now);
  return ttl > 0 || isStaleWithin(ttl, staleOnFailureWindow(response, requestDirectives(req.headers), opts, failure));
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

/** Seconds past expiry a stale response may answer for a failed origin (see `mayServeStaleOnError`). */
function staleOnFailureWindow(
  response: Directives,
  request: Directives,
  opts: PolicyOptions,
  failure: OriginFailure,
): number {
  // RFC 5861 §4: the larger of the response's and the request's; a rule's window replaces the response's.
  const staleIfError = Math.max(
    opts.staleIfError ?? deltaSeconds(response, 'stale-if-error') ?? 0,
    deltaSeconds(request, 'stale-if-error') ?? 0,
  );
  const permitted = staleIfError + opts.grace;
  return failure === 'disconnected' ? Math.max(permitted, opts.disconnectedGrace) : permitted;
}
