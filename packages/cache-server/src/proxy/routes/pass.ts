import { pipeline } from 'node:stream/promises';
import { X_CACHE } from '@simple-cache/common';
import { CacheError } from '../../errors.js';
import { toCacheError } from '../../origin/origin-client.js';
import { invalidationTargets } from '../../policy/index.js';
import type { Exchange, RouteContext } from '../context.js';
import { forwardHeadersFor } from '../forward-headers.js';
import { noteOrigin, type Outcome } from '../outcome.js';
import type { Route } from '../route.js';
import { relayedHead } from '../respond/heads.js';
import { hasRequestBody, requestBodyOf } from '../respond/protocol.js';
import { sendError } from '../respond/send-error.js';
import { sendInterim } from '../respond/send-interim.js';
import { writeHead } from '../respond/write-head.js';

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/**
 * Requests the cache does not answer itself (POST, PUT, DELETE, …; GETs with preconditions only
 * the origin may evaluate; Range requests for objects too large to fetch whole): the request goes
 * to the origin untouched, body streamed, and its response comes back untouched. A successful
 * unsafe request invalidates what the cache holds for the target (RFC 9111 §4.4). Nothing is
 * stored: not even a POST response that RFC 9110 §9.3.3 would let answer later GETs (its
 * Content-Location is its own URL and it has explicit freshness). A POST goes with the client's
 * X-Forwarded-Host and the other fields the key does not include, which a stored response must
 * never depend on (policy/headers.ts UNKEYED_REQUEST_FIELDS); without them many applications'
 * POSTs break. So such a response only invalidates, as nginx and Varnish do by default.
 */
export async function passRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { fwd, detail, rule }: Extract<Route, { route: 'pass' }>,
): Promise<Outcome> {
  const { deps } = ctx;
  const { req, res, key, view } = exchange;
  exchange.outcome.route = 'pass';
  if (rule !== undefined) exchange.outcome.rule = rule;
  // A GET's or HEAD's body has no meaning (RFC 9110 §9.3.1, §9.3.2) and the cache's own fetches
  // drop it: so does a pass-through, or the same request would reach the origin two ways.
  const hasBody = !BODYLESS_METHODS.has(view.method) && hasRequestBody(req);
  let response;
  try {
    response = await deps.origin.request({
      method: view.method,
      url: exchange.url,
      headers: forwardHeadersFor(exchange, deps, { keepConditionals: true }),
      ...(hasBody ? { body: requestBodyOf(req) } : {}),
      onInterim: (status, headers) => sendInterim(exchange, deps, status, headers),
    });
  } catch (error) {
    const failure = toCacheError(error);
    sendError(exchange, deps, failure, error, { fwd }, X_CACHE.bypass);
    return exchange.outcome;
  }
  noteOrigin(exchange.outcome, response);
  for (const target of invalidationTargets(view.method, key, response)) {
    ctx.fetches.forget(target);
    await deps.store
      .delete(target)
      .catch((error: unknown) => exchange.log.warn({ err: error, target }, 'invalidation failed'));
  }
  // The body failed in the packet that brought the head (a bad chunk size): nothing of it can be
  // relayed, and a clear 502 beats a head followed by a closed connection.
  if (response.body.errored) {
    sendError(exchange, deps, toCacheError(response.body.errored), response.body.errored, { fwd }, X_CACHE.bypass);
    return exchange.outcome;
  }
  const head = relayedHead(response, X_CACHE.bypass, { fwd, fwdStatus: response.status, detail }, deps.heads);
  writeHead(exchange, head);
  try {
    await pipeline(response.body, res);
  } catch (error) {
    const failure = error instanceof CacheError ? error : toCacheError(error);
    exchange.log.warn({ err: error, code: failure.code }, 'pass-through response failed mid-body');
    res.destroy();
  }
  return exchange.outcome;
}
