import type { CacheStatusInfo, XCache } from '@simple-cache/common';
import { closeAfterResponse } from '../../closing-connections.js';
import type { ErrorSpec } from '../../errors.js';
import type { Exchange, ProxyDeps } from '../context.js';
import { errorResponse, errorXCache } from './heads.js';
import { writeHead } from './write-head.js';

/**
 * Answers with one of the catalogue's errors: short text body, stable code, one log line.
 * `status` says whether (and why) the request went forward (RFC 9211 fwd); the code is its detail.
 * X-Cache is MISS for an origin failure on a fetch for the cache, BYPASS for the cache's own
 * refusals; a pass-through names itself (`xCache` BYPASS), whatever failed.
 */
export function sendError(
  exchange: Exchange,
  deps: ProxyDeps,
  spec: ErrorSpec,
  cause?: unknown,
  status: CacheStatusInfo = { fwd: 'miss' },
  xCache: XCache = errorXCache(spec),
): void {
  const { res, log } = exchange;
  const level = spec.status >= 500 ? 'warn' : 'info';
  // One compact line (logger.ts serializes `err`): the path without its query, which may carry secrets.
  const path = (exchange.req.url ?? '').split('?')[0];
  log[level]({ code: spec.code, status: spec.status, method: exchange.view.method, path, err: cause }, spec.message);
  if (res.headersSent) {
    // Part of a body is already on the wire: the only honest signal left is a broken connection.
    res.destroy();
    return;
  }
  // A request body left unread (e.g. refused as too large) cannot be told from the next request:
  // the connection closes, and nothing read after this response is processed (RFC 9112 §9.6).
  const close = !exchange.req.complete;
  if (close) closeAfterResponse(exchange.req);
  const error = errorResponse(spec, deps.heads.name, status, { close, xCache });
  writeHead(exchange, error);
  res.end(exchange.view.method === 'HEAD' ? undefined : error.body);
}
