/**
 * The outcome of one request at the cache. Sent as `X-Cache` (nginx's `$upstream_cache_status`
 * vocabulary, so dashboards built for nginx keep working) and mapped onto RFC 9211 `Cache-Status`.
 */
export const X_CACHE = {
  /** Served from a fresh stored response; the origin was not contacted. */
  hit: 'HIT',
  /** Nothing usable was stored; the response came from the origin (and may now be stored). */
  miss: 'MISS',
  /** A stored response was stale, the origin was asked and sent a full new response. */
  expired: 'EXPIRED',
  /** A stored response was stale, the origin confirmed it with 304; served from the cache. */
  revalidated: 'REVALIDATED',
  /** A stale stored response was served because the origin failed (stale-if-error / grace). */
  stale: 'STALE',
  /** A stale stored response was served while it is refreshed in the background (stale-while-revalidate). */
  updating: 'UPDATING',
  /** The cache was not consulted for this request (method, request directives, …). */
  bypass: 'BYPASS',
} as const;

export type XCache = (typeof X_CACHE)[keyof typeof X_CACHE];

/** RFC 9211 §2.2 `fwd` parameter values: why the request went forward to the origin. */
export type CacheStatusForward =
  'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

/** The parameters of this cache's member of the `Cache-Status` field (RFC 9211 §2). */
export interface CacheStatusInfo {
  hit?: boolean;
  fwd?: CacheStatusForward;
  fwdStatus?: number;
  /** Remaining freshness in seconds; negative when stale. */
  ttl?: number;
  stored?: boolean;
  collapsed?: boolean;
  key?: string;
  detail?: string;
}
