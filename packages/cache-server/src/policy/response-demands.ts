import type { Directives } from './cache-control.js';

// What the directives governing a stored response (response-control.ts) demand of a shared cache
// whenever the response is used: validation first, never stale, not kept at all. The decision to
// store (storable.ts) and the decisions to reuse (use.ts) both ask, so the answers live here,
// below both, rather than in either.

/**
 * Final status codes whose semantics this cache implements (RFC 9110 §15), i.e. "understood" for
 * must-understand (RFC 9111 §5.2.2.3). A cache that does nothing status-specific still has to
 * pick a list; extension codes (e.g. WebDAV's 207) are not on it.
 */
export const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407,
  408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
]);

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

/**
 * Does a stored response say a shared cache must not keep it (no-store, unless must-understand
 * with a status we understand; bare private)? Such an entry exists only because a rule forced it
 * (or a 304 brought the directive): it is not used once nothing forces it (use.ts).
 */
export function forbidsSharedStorage(status: number, directives: Directives): boolean {
  if (directives.get('private') === true) return true;
  if (!directives.has('no-store')) return false;
  return !(directives.has('must-understand') && UNDERSTOOD_STATUSES.has(status));
}
