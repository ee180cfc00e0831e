import { fieldNamesOf, readField, requestDirectives, type Directives } from './cache-control.js';
import { governingDirectives, ignoresExpires } from './response-control.js';
import { allowsHeuristicFreshness, freshnessLifetime } from './freshness.js';
import { varyNames } from './keys.js';
import { forbidsStale, requiresValidation, UNDERSTOOD_STATUSES } from './response-demands.js';
import type { HeaderMap, PolicyOptions, RequestView, ResponseView, StorabilityDecision } from './types.js';

type Refusal = string | undefined;

/**
 * May this response be stored by a shared cache (RFC 9111 §3)? Each rule returns a refusal
 * reason or undefined; the first refusal wins. A stored response may still be unusable for some
 * requests (decided by `decideUse`); `private="field"` responses are stored and served without
 * those fields (headers.ts does the stripping).
 */
export function decideStorable(req: RequestView, res: ResponseView, opts: PolicyOptions): StorabilityDecision {
  // A rule's force: the response's Cache-Control and targeted field say nothing (governingDirectives).
  const directives = governingDirectives(res.headers, opts);
  const refusal =
    refuseMethod(req, res, directives, opts) ??
    refuseStatus(res.status) ??
    refuseNoStore(req, res.status, directives) ??
    refusePrivate(directives) ??
    (opts.force ? undefined : refuseAuthorized(req, directives)) ??
    // strip-cookies removes Set-Cookie before storing, so there is no cookie to share.
    (opts.force || opts.stripCookies ? undefined : refuseSetCookie(res.headers, directives)) ??
    (opts.force ? undefined : refuseCredentialedWithoutFreshness(req, res, directives, opts)) ??
    refuseVaryStar(res.headers) ??
    refuseWithoutPermission(res, directives, opts) ??
    refuseNeverReusable(res, directives, opts);
  return refusal === undefined ? { storable: true, reason: 'storable' } : { storable: false, reason: refusal };
}

/**
 * RFC 9111 §3: only methods whose responses are defined cacheable. GET always; HEAD responses
 * have no body, so they are not stored as entries (a stored GET response answers HEAD instead);
 * POST only with explicit freshness and a Content-Location equal to the target (RFC 9110 §9.3.3),
 * which needs `req.url`.
 */
function refuseMethod(req: RequestView, res: ResponseView, directives: Directives, opts: PolicyOptions): Refusal {
  const method = req.method.toUpperCase();
  if (method === 'GET') return undefined;
  if (method === 'HEAD') return 'method-head';
  if (method === 'POST' && isPostCacheable(req, res, directives, opts)) return undefined;
  return 'method-not-cacheable';
}

function isPostCacheable(req: RequestView, res: ResponseView, directives: Directives, opts: PolicyOptions): boolean {
  const location = readField(res.headers, 'content-location');
  if (req.url === undefined || location === undefined) return false;
  return hasExplicitFreshness(res.headers, directives, opts) && resolvesTo(location, req.url);
}

function resolvesTo(reference: string, url: string): boolean {
  try {
    return new URL(reference, url).href === new URL(url).href;
  } catch {
    return false;
  }
}

/** RFC 9111 §3: final status only; 206 (RFC 9111 §3.3) and 304 (§4.3.4 updates, never stores) are not kept. */
function refuseStatus(status: number): Refusal {
  if (status < 200) return 'status-not-final';
  if (status === 206) return 'partial-content';
  if (status === 304) return 'not-modified';
  return undefined;
}

/**
 * RFC 9111 §5.2.1.5: a request's no-store means no part of any response to it is stored. One rule
 * for every way a response reaches the store: a new response (decideStorable), a refresh of the
 * stored one by a 304 (§4.3.4) or a HEAD's 200 (§4.3.5), which is then not written back (the
 * stored entry stays as it was), and a fetch other nodes would wait for (cross-node collapsing:
 * nothing will be stored for them to find).
 */
export function requestForbidsStoring(request: HeaderMap): boolean {
  return requestDirectives(request).has('no-store');
}

/**
 * no-store in the request (RFC 9111 §5.2.1.5) or the response (§5.2.2.5). A response's
 * must-understand overrides its no-store when we understand the status, and refuses it when we
 * do not (§5.2.2.3).
 */
function refuseNoStore(req: RequestView, status: number, directives: Directives): Refusal {
  if (requestForbidsStoring(req.headers)) return 'request-no-store';
  if (directives.has('must-understand')) return UNDERSTOOD_STATUSES.has(status) ? undefined : 'must-understand';
  return directives.has('no-store') ? 'no-store' : undefined;
}

/** RFC 9111 §5.2.2.7: bare private forbids shared caches; private="fields" only forbids those fields. */
function refusePrivate(directives: Directives): Refusal {
  return directives.get('private') === true ? 'private' : undefined;
}

/** RFC 9111 §3.5: a response to an authenticated request needs explicit permission to be shared. */
function refuseAuthorized(req: RequestView, directives: Directives): Refusal {
  if (req.headers['authorization'] === undefined) return undefined;
  const allowed = ['public', 's-maxage', 'must-revalidate'].some((name) => directives.has(name));
  return allowed ? undefined : 'authorization';
}

/**
 * Not an RFC rule but the usual shared-cache one (nginx and Varnish refuse such responses by
 * default): a response that sets a cookie is usually made for one user. It is stored only when
 * the origin says it may be shared: `public` or `s-maxage` (as for Authorization, §3.5), or
 * `private="set-cookie"` / `no-cache="set-cookie"`, which name the one field not to share. The
 * Set-Cookie field itself is never stored (headers.ts).
 */
function refuseSetCookie(headers: HeaderMap, directives: Directives): Refusal {
  if (headers['set-cookie'] === undefined) return undefined;
  if (directives.has('public') || directives.has('s-maxage')) return undefined;
  const namesCookie = (name: string) => fieldNamesOf(directives.get(name)).includes('set-cookie');
  return namesCookie('private') || namesCookie('no-cache') ? undefined : 'set-cookie';
}

/** Request fields that identify a user: a response to a request with one may be that user's own. */
const CREDENTIAL_FIELDS = ['cookie', 'authorization'];

/**
 * Not an RFC rule but the fix for web cache deception (issue 12.7; nginx and Varnish do not cache
 * requests with cookies by default): a response to a request that carried Cookie or
 * Authorization may be that user's page (`/account/settings/x.css`). Without a word that it may
 * be shared for a while (explicit freshness, RFC 9111 §4.2.1; `public`, §5.2.2.9; or a rule's
 * ttl or default-ttl) it would live on a heuristic lifetime (§4.2.2), or be revalidated with the
 * next user's credentials and served to them: it is not stored. A Vary naming the field keys the
 * response on it, so that one may be; a rule's strip-cookies removes the request's Cookie.
 */
function refuseCredentialedWithoutFreshness(
  req: RequestView,
  res: ResponseView,
  directives: Directives,
  opts: PolicyOptions,
): Refusal {
  const carried = CREDENTIAL_FIELDS.filter(
    (name) => req.headers[name] !== undefined && !(name === 'cookie' && opts.stripCookies),
  );
  if (carried.length === 0) return undefined;
  if (directives.has('public') || hasExplicitFreshness(res.headers, directives, opts)) return undefined;
  if (opts.ttl !== undefined || opts.defaultTtl !== undefined) return undefined;
  const vary = varyNames(res.headers);
  return carried.every((name) => vary.includes(name)) ? undefined : 'credentials-without-freshness';
}

/** RFC 9111 §4.1: Vary: * never matches a later request, so storing it would only waste space. */
function refuseVaryStar(headers: HeaderMap): Refusal {
  const vary = readField(headers, 'vary') ?? '';
  return vary.split(',').some((name) => name.trim() === '*') ? 'vary-star' : undefined;
}

/**
 * RFC 9111 §3: the response must carry explicit freshness, public, or a heuristically cacheable
 * status. (The private-cache and cache-extension permissions do not apply here.) A rule's ttl or
 * default-ttl is the operator's explicit freshness: it is how a 5xx or a 302 gets stored.
 */
function refuseWithoutPermission(res: ResponseView, directives: Directives, opts: PolicyOptions): Refusal {
  if (opts.ttl !== undefined || opts.defaultTtl !== undefined) return undefined;
  if (hasExplicitFreshness(res.headers, directives, opts)) return undefined;
  return allowsHeuristicFreshness(res.status, directives) ? undefined : 'not-cacheable-status';
}

/**
 * Not an RFC rule but a saving: an entry without a validator can only be reused without asking
 * the origin, so it is not written when that can never happen: bare no-cache; no freshness
 * information at all (nothing explicit, no heuristic, nothing that lets it be served stale);
 * or stale on arrival under a directive that forbids serving it stale. A response that is stale
 * on arrival but carries explicit freshness (max-age=0, a past Expires) IS kept: a request's
 * max-stale (RFC 9111 §5.2.1.2) or stale-if-error (RFC 5861 §4) may still use it.
 */
function refuseNeverReusable(res: ResponseView, directives: Directives, opts: PolicyOptions): Refusal {
  if (res.headers['etag'] !== undefined || res.headers['last-modified'] !== undefined) return undefined;
  if (requiresValidation(directives)) return 'never-reusable';
  const { lifetime, source } = freshnessLifetime({ status: res.status, headers: res.headers, responseTime: 0 }, opts);
  if (lifetime > 0) return undefined;
  if (forbidsStale(directives)) return 'never-reusable';
  const servableStale =
    source !== 'none' ||
    opts.grace > 0 ||
    (opts.staleIfError ?? 0) > 0 ||
    (opts.staleWhileRevalidate ?? 0) > 0 ||
    directives.has('stale-while-revalidate') ||
    directives.has('stale-if-error');
  return servableStale ? undefined : 'never-reusable';
}

/** Explicit expiration (RFC 9111 §4.2.1); Expires does not count when the targeted field governs (RFC 9213 §2.1). */
function hasExplicitFreshness(headers: HeaderMap, directives: Directives, opts: PolicyOptions): boolean {
  if (directives.has('max-age') || directives.has('s-maxage')) return true;
  return headers['expires'] !== undefined && !ignoresExpires(headers, opts);
}
