import type { HeaderMap } from '@simple-cache/common';
import { forwardRequestHeaders, withCanonicalSelectingFields, withoutUnkeyedFields } from '../policy/index.js';
import type { Exchange, ProxyDeps } from './context.js';

/** Client-side conditionals and ranges: the cache fetches whole responses and answers those itself. */
const CLIENT_ONLY = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];

/** Request headers for the origin: hop-by-hop removed, X-Forwarded-*, Via, Host of the origin. */
export function forwardHeadersFor(
  exchange: Exchange,
  deps: ProxyDeps,
  options: { keepConditionals: boolean },
): HeaderMap {
  const { req } = exchange;
  const headers = forwardRequestHeaders(req.headers, {
    clientIp: req.socket.remoteAddress ?? '',
    proto: 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http',
    name: deps.config.name,
    originHost: new URL(deps.config.origin).host,
    version: req.httpVersionMajor === 2 ? '2' : req.httpVersion,
  });
  // A rule's strip-cookies: the origin never sees the client's cookies on this path.
  if (exchange.rules.stripCookies !== undefined) delete headers['cookie'];
  if (options.keepConditionals) return headers;
  for (const name of CLIENT_ONLY) delete headers[name];
  // Without conditionals means a fetch for the cache, whose response may be shared (policy/headers.ts,
  // policy/keys.ts: the Accept-Language every request sharing the variant asks with).
  return withCanonicalSelectingFields(withoutUnkeyedFields(headers), req.headers);
}
