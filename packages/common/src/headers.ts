/** Header names both servers and the tests agree on (lower case, as Node exposes them). */
export const HEADER = {
  age: 'age',
  cacheControl: 'cache-control',
  /** RFC 9211: the structured cache-status field, one member per cache on the path. */
  cacheStatus: 'cache-status',
  /** The habit of nginx/Varnish users: HIT, MISS, … (values in `X_CACHE`). */
  xCache: 'x-cache',
  via: 'via',
  xForwardedFor: 'x-forwarded-for',
  xForwardedProto: 'x-forwarded-proto',
  xForwardedHost: 'x-forwarded-host',
  /** Set by the origin on every response: how many requests it has served (used by tests and the demo). */
  originRequestCount: 'x-origin-request-count',
} as const;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): meaningful for one connection only, never stored or
 * forwarded. Fields named in `Connection` are hop-by-hop too; see the policy module.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
