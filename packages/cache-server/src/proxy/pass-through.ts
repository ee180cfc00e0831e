import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CacheStatusForward } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { CacheError } from '../errors.js';
import { toCacheError, type OriginResponse } from '../origin/origin-client.js';
import { decideStorable, invalidationTargets } from '../policy/index.js';
import { policyFor, sendError, type Exchange, type ProxyDeps } from './context.js';
import { forwardHeadersFor } from './forward-headers.js';
import type { Flow } from './in-flight.js';
import { startStoring } from './origin-fetch.js';
import { noteOrigin } from './outcome.js';
import { relayedHead } from './respond/heads.js';
import { writeHead } from './respond/write-head.js';

const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/**
 * Requests the cache does not answer itself (POST, PUT, DELETE, …; GETs with preconditions only
 * the origin may evaluate; Range requests for objects too large to fetch whole): the request goes
 * to the origin untouched, body streamed, and its response comes back untouched. A successful
 * unsafe request invalidates what the cache holds for the target (RFC 9111 §4.4). A POST
 * response with explicit freshness and a Content-Location of its own URL is stored as the GET
 * response for that URL (RFC 9110 §9.3.3); nothing else is.
 */
export async function passThrough(
  flow: Flow,
  exchange: Exchange,
  fwd: CacheStatusForward = 'method',
  detail?: string,
): Promise<void> {
  const { deps } = flow;
  const { req, res, key, view } = exchange;
  exchange.outcome.route = 'pass';
  // A GET's or HEAD's body has no meaning (RFC 9110 §9.3.1, §9.3.2) and the cache's own fetches
  // drop it: so does a pass-through, or the same request would reach the origin two ways.
  const hasBody =
    !BODYLESS_METHODS.has(view.method) &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  let response;
  try {
    response = await deps.origin.request({
      method: view.method,
      url: exchange.url,
      headers: forwardHeadersFor(exchange, deps, { keepConditionals: true }),
      ...(hasBody ? { body: req } : {}),
    });
  } catch (error) {
    const failure = toCacheError(error);
    sendError(exchange, deps, failure, error, { fwd }, X_CACHE.bypass);
    return;
  }
  noteOrigin(exchange.outcome, response);
  for (const target of invalidationTargets(view.method, key, response)) {
    flow.fetches.forget(target);
    await deps.store
      .delete(target)
      .catch((error: unknown) => exchange.log.warn({ err: error, target }, 'invalidation failed'));
  }
  // The body failed in the packet that brought the head (a bad chunk size): nothing of it can be
  // relayed, and a clear 502 beats a head followed by a closed connection.
  if (response.body.errored) {
    sendError(exchange, deps, toCacheError(response.body.errored), response.body.errored, { fwd }, X_CACHE.bypass);
    return;
  }
  const { body, stored } = bodyAndStorage(exchange, deps, response);
  const head = relayedHead(
    response,
    X_CACHE.bypass,
    { fwd, fwdStatus: response.status, stored: stored || undefined, detail },
    deps.heads,
  );
  writeHead(exchange, head);
  try {
    await pipeline(body, res);
  } catch (error) {
    const failure = error instanceof CacheError ? error : toCacheError(error);
    exchange.log.warn({ err: error, code: failure.code }, 'pass-through response failed mid-body');
    res.destroy();
  }
}

/** The body to relay; for a storable POST response it also flows into the store (RFC 9110 §9.3.3). */
function bodyAndStorage(
  exchange: Exchange,
  deps: ProxyDeps,
  response: OriginResponse,
): { body: Readable; stored: boolean } {
  const { key, view } = exchange;
  // A rule's bypass: nothing is stored either.
  if (view.method !== 'POST' || exchange.rules.bypass !== undefined) return { body: response.body, stored: false };
  const policy = policyFor(exchange, response.status);
  const storability = decideStorable({ method: 'POST', headers: view.headers, url: key }, response, policy);
  if (!storability.storable) return { body: response.body, stored: false };
  const { fanOut, storeRefusal } = startStoring(deps, exchange, response, storability);
  const body = new PassThrough();
  fanOut.add(body, { end: true });
  exchange.res.once('close', () => {
    if (!exchange.res.writableFinished) body.destroy();
  });
  return { body, stored: storeRefusal() === undefined };
}
