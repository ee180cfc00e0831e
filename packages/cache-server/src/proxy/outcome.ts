import type { IncomingMessage } from 'node:http';
import type { CacheStatusInfo, XCache } from '@simple-cache/common';
import { contentLengthOf, type Head } from './respond/heads.js';

/**
 * The ways the proxy answers (route.ts chooses one per pass; `fast-hit` is the fast path before
 * Fastify). An exchange's Outcome names the route that wrote its response.
 */
export type RouteName = 'serve' | 'serve-parts' | 'fetch' | 'revalidate-head' | 'pass' | 'refuse' | 'fast-hit';

/**
 * One finished client exchange: what metrics, the dashboard's traffic and the access log read.
 * Built by the proxy from the route that answered, never from the headers on the wire.
 */
export interface Outcome {
  route: RouteName;
  method: string;
  /** The request target as the client sent it (path and query). */
  target: string;
  /** Primary cache key, '' when the target was refused. */
  key: string;
  /** The status sent; 0 when no response started. */
  status: number;
  /** The X-Cache value sent; '' when no response started. */
  xCache: XCache | '';
  cacheStatus: CacheStatusInfo;
  /** The caching rule that decided (issue 14's rules); '' when none did. */
  rule: string;
  errorCode: string;
  /** Body bytes announced to the client (Content-Length); 0 when unknown, none, or a HEAD. */
  bytes: number;
  /** Wall clock (ms) when the request arrived. */
  startedAt: number;
  /** From arrival to the end of the response (or the connection's close). */
  durationMs: number;
  /** From the origin request to its response head, when the origin was asked (shared fetches: that fetch's). */
  originMs: number | undefined;
  /** True when the client left before the response was complete. */
  aborted: boolean;
}

/** Hooks for whoever watches the proxy (metrics, dashboard, access log); the proxy never depends on them. */
export interface OutcomeObserver {
  /** Called once per finished exchange, fast hits included, with the request it answered (the access log's client fields). */
  onOutcome(outcome: Outcome, req: IncomingMessage): void;
}

/** A new exchange's Outcome, before any route has answered. */
export function startOutcome(method: string, target: string, key: string, startedAt: number): Outcome {
  return {
    route: 'refuse',
    method,
    target,
    key,
    status: 0,
    xCache: '',
    cacheStatus: {},
    rule: '',
    errorCode: '',
    bytes: 0,
    startedAt,
    durationMs: 0,
    originMs: undefined,
    aborted: false,
  };
}

/** Notes what the head written says: status, X-Cache, Cache-Status parameters, error code, bytes. */
export function noteHead(outcome: Outcome, head: Head): void {
  outcome.status = head.status;
  outcome.xCache = head.xCache;
  outcome.cacheStatus = head.cacheStatus;
  outcome.errorCode = head.errorCode;
  outcome.bytes = outcome.method === 'HEAD' ? 0 : (contentLengthOf(head.headers) ?? 0);
}

/** Notes how long the origin took to send its response head (RFC 9111 §4.2.3's request and response times). */
export function noteOrigin(outcome: Outcome, response: { requestTime: number; responseTime: number }): void {
  outcome.originMs = Math.max(0, response.responseTime - response.requestTime);
}
