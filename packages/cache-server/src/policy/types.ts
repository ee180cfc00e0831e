import type { EntryMeta, HeaderMap } from '@simple-cache/common';

/** What policy needs to know about a request: nothing else (no sockets, no Fastify). */
export interface RequestView {
  method: string;
  /** Lower-case names, as Node's IncomingHttpHeaders. */
  headers: HeaderMap;
  /**
   * Absolute target URL at the origin (the key). Optional: only needed to recognise a cacheable
   * POST response, whose Content-Location must equal it (RFC 9110 §9.3.3).
   */
  url?: string;
}

/** What policy needs to know about a response from the origin. */
export interface ResponseView {
  status: number;
  headers: HeaderMap;
}

export interface PolicyOptions {
  /** Allow heuristic freshness (RFC 9111 §4.2.2) for responses with Last-Modified and no explicit lifetime. */
  heuristics: boolean;
  /** Fraction of (Date − Last-Modified) used as heuristic lifetime (10 % as the RFC suggests). */
  heuristicFraction: number;
  /** Cap on heuristic lifetime, seconds. */
  heuristicMaxAge: number;
  /** Extra seconds a stale response may be served when the origin fails, beyond stale-if-error. 0 = off. */
  grace: number;
  /**
   * Seconds past expiry a stale response may be served when the origin cannot be reached at all
   * (refused, reset, timed out): RFC 9111 §4.2.4 lets a disconnected cache serve stale without
   * the origin's permission. Not for 5xx answers, which need stale-if-error or `grace`. 0 = off.
   */
  disconnectedGrace: number;
  /** Lower-case name of the targeted cache-control field this cache obeys (RFC 9213), e.g. 'cdn-cache-control'. */
  targetedField: string;
  /** This cache's name (`--name`): its device token for Surrogate-Control targeting (W3C Edge Architecture §3). */
  cacheName: string;
  /**
   * Remove the targeted field from responses to clients. RFC 9213 §3: CDN caches "will typically
   * forward this header so that downstream CDN caches can use it as well", but MAY remove it.
   */
  stripTargetedField: boolean;
  /**
   * The operator's rules (rules/, issue 14) for this request, all optional and in seconds:
   * `ttl` replaces the response's own lifetime (s-maxage, max-age, Expires, heuristic) and counts
   * as explicit freshness; `force` with it makes the response's Cache-Control, targeted field and
   * Expires ignored and Set-Cookie / Authorization no longer refuse storing; `defaultTtl` is the
   * lifetime when the response gives none explicitly (instead of the heuristic); `staleIfError`
   * and `staleWhileRevalidate` replace the response's directives of those names (RFC 5861);
   * `stripCookies`: Set-Cookie is removed before storing, so it refuses nothing.
   */
  ttl?: number;
  force?: boolean;
  defaultTtl?: number;
  staleIfError?: number;
  staleWhileRevalidate?: number;
  stripCookies?: boolean;
}

/** RFC 9111 §4.2.2: "a typical setting of this fraction might be 10%" of the time since Last-Modified. */
export const HEURISTIC_FRACTION = 0.1;

/**
 * RFC 9213 §2.1: the targeted field CDNs obey. The policy's own fallback, and the default of
 * `--targeted-field` (config.ts, which holds every other default and builds PolicyOptions).
 */
export const DEFAULT_TARGETED_FIELD = 'cdn-cache-control';

/** The default of `--name`: this cache in Via, Cache-Status and Surrogate-Capability. */
export const DEFAULT_CACHE_NAME = 'simple-cache';

/** Every decision carries the rule that produced it (shown in Cache-Status `detail` and logs). */
export interface Reasoned {
  /** Short machine-friendly reason, e.g. 'no-store', 'status-not-cacheable'. */
  reason: string;
}

export type StorabilityDecision = ({ storable: true } | { storable: false }) & Reasoned;

/** Where a lifetime came from; `rule-ttl` and `rule-default-ttl` are the operator's rules (PolicyOptions). */
export type FreshnessSource =
  'rule-ttl' | 's-maxage' | 'max-age' | 'expires' | 'rule-default-ttl' | 'heuristic' | 'none';

export interface Freshness {
  /** Freshness lifetime in seconds (RFC 9111 §4.2.1). */
  lifetime: number;
  source: FreshnessSource;
}

/**
 * What to do with a stored response (already selected for the request's variant).
 * - fresh: serve it, origin not contacted.
 * - stale-while-revalidate: serve it now, refresh once in the background (RFC 5861 §3).
 * - revalidate: send a conditional request to the origin first (stale, or no-cache).
 * - unusable: treat as a miss (e.g. request max-age=0 with no validators… or Vary mismatch).
 */
export type UseDecision = {
  action: 'fresh' | 'stale-while-revalidate' | 'revalidate' | 'unusable';
  /** Current age, seconds (RFC 9111 §4.2.3). */
  age: number;
  /** lifetime − age: seconds of freshness left; negative when stale. */
  ttl: number;
  /** Where the lifetime came from (a rule's ttl shows in Cache-Status `detail`). */
  source?: FreshnessSource;
} & Reasoned;

export type { EntryMeta, HeaderMap };
