import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BaseLogger } from 'pino';
import type { CacheServerConfig, CacheStatusInfo, HeaderMap, XCache } from '@simple-cache/common';
import { HEADER, X_CACHE } from '@simple-cache/common';
import type { ErrorSpec } from '../errors.js';
import type { OriginClient } from '../origin/origin-client.js';
import { appendCacheStatus, formatCacheStatus, type PolicyOptions, type RequestView } from '../policy/index.js';
import type { Store } from '../store/store.js';

/** The slice of a pino logger the proxy uses (Fastify's request logger and pino's both fit). */
export type Log = Pick<BaseLogger, 'error' | 'warn' | 'info' | 'debug'>;

/** One finished client exchange, as metrics and logs see it. */
export interface ExchangeEvent {
  method: string;
  /** Primary key, '' when the target was refused. */
  key: string;
  status: number;
  /** The X-Cache value sent ('' when the response never started). */
  xCache: string;
  /** Body bytes announced to the client (Content-Length), 0 when unknown or none. */
  bytes: number;
  durationMs: number;
  /** True when the client left before the response was complete. */
  aborted: boolean;
}

/** Hooks for whoever watches the proxy (metrics, stats); the proxy never depends on them. */
export interface ProxyObserver {
  onExchange?(event: ExchangeEvent): void;
}

/** What the proxy needs from the rest of the server. */
export interface ProxyDeps {
  config: Readonly<CacheServerConfig>;
  policy: Readonly<PolicyOptions>;
  store: Store;
  origin: OriginClient;
  logger: Log;
  observer?: ProxyObserver;
}

/** One client request on its way through the proxy. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Primary cache key = absolute URL at the origin. */
  key: string;
  view: RequestView;
  log: Log;
}

/** The cache's own headers on every response: X-Cache, Cache-Status (RFC 9211) and Via (RFC 9110 §7.6.3). */
export function withCacheHeaders(
  headers: HeaderMap,
  deps: ProxyDeps,
  xCache: XCache,
  status: CacheStatusInfo,
): HeaderMap {
  const { name } = deps.config;
  const via = headers[HEADER.via];
  return {
    ...headers,
    [HEADER.xCache]: xCache,
    [HEADER.cacheStatus]: appendCacheStatus(headers[HEADER.cacheStatus], formatCacheStatus(name, status)),
    [HEADER.via]: via ? `${Array.isArray(via) ? via.join(', ') : via}, 1.1 ${name}` : `1.1 ${name}`,
  };
}

/** Answers with one of the catalogue's errors: short text body, stable code, one log line. */
export function sendError(exchange: Exchange, deps: ProxyDeps, spec: ErrorSpec, cause?: unknown): void {
  const { res, log } = exchange;
  const level = spec.status >= 500 ? 'warn' : 'info';
  log[level]({ code: spec.code, status: spec.status, err: cause }, spec.message);
  if (res.headersSent) {
    // Part of a body is already on the wire: the only honest signal left is a broken connection.
    res.destroy();
    return;
  }
  const body = `${spec.status} ${spec.message} (${spec.code})\n`;
  const xCache = spec.status >= 500 ? X_CACHE.miss : X_CACHE.bypass;
  res.writeHead(
    spec.status,
    withCacheHeaders(
      {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
        'x-cache-error': spec.code,
      },
      deps,
      xCache,
      { fwd: 'miss', detail: spec.code },
    ) as Record<string, string>,
  );
  res.end(exchange.view.method === 'HEAD' ? undefined : body);
}
