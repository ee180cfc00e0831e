import { pipeline } from 'node:stream/promises';
import { X_CACHE } from '@simple-cache/common';
import { CacheError } from '../errors.js';
import { toCacheError } from '../origin/origin-client.js';
import { forwardResponseHeaders, invalidationTargets } from '../policy/index.js';
import { sendError, withCacheHeaders, type Exchange, type ProxyDeps } from './context.js';
import { forwardHeadersFor } from './forward-headers.js';

/**
 * Requests the cache never answers itself (POST, PUT, DELETE, …, and GETs with preconditions
 * only the origin may evaluate): the request goes to the origin untouched, body streamed, and its
 * response comes back untouched and unstored. A successful unsafe request invalidates what the
 * cache holds for the target (RFC 9111 §4.4).
 */
export async function passThrough(
  exchange: Exchange,
  deps: ProxyDeps,
  fwd: 'method' | 'request' = 'method',
): Promise<void> {
  const { req, res, key, view } = exchange;
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  let response;
  try {
    response = await deps.origin.request({
      method: view.method,
      url: key,
      headers: forwardHeadersFor(exchange, deps, { keepConditionals: true }),
      ...(hasBody ? { body: req } : {}),
    });
  } catch (error) {
    const failure = toCacheError(error);
    sendError(exchange, deps, failure, error);
    return;
  }
  for (const target of invalidationTargets(view.method, key, response)) {
    await deps.store
      .delete(target)
      .catch((error: unknown) => exchange.log.warn({ err: error, target }, 'invalidation failed'));
  }
  const headers = withCacheHeaders(
    forwardResponseHeaders(response.headers, deps.policy.targetedField),
    deps,
    X_CACHE.bypass,
    {
      fwd,
      fwdStatus: response.status,
    },
  );
  res.writeHead(response.status, headers as Record<string, string>);
  try {
    await pipeline(response.body, res);
  } catch (error) {
    const failure = error instanceof CacheError ? error : toCacheError(error);
    exchange.log.warn({ err: error, code: failure.code }, 'pass-through response failed mid-body');
    res.destroy();
  }
}
