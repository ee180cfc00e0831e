import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheStatusInfo, XCache } from '@simple-cache/common';
import type { Head } from './respond/heads.js';

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
  /**
   * Body bytes sent to the client (nginx's `$body_bytes_sent`): what was written, whatever the
   * framing (Content-Length or chunked); 0 for a HEAD, a 304 or a 204; for a client that left,
   * what went out before it did. Not the head, not the chunked framing.
   */
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

/** Notes what the head written says: status, X-Cache, Cache-Status parameters, error code. */
export function noteHead(outcome: Outcome, head: Head): void {
  outcome.status = head.status;
  outcome.xCache = head.xCache;
  outcome.cacheStatus = head.cacheStatus;
  outcome.errorCode = head.errorCode;
}

/** Chunks as res.write() and res.end() take them. */
type Chunk = string | Uint8Array | undefined | null | (() => void);

function lengthOf(chunk: Chunk, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/**
 * Counts on the Outcome the body bytes the response is given. Every route's body reaches the
 * client through res.write()/res.end() (pipes, the fan-out of a shared fetch, a body file's
 * sendTo, an error's body), so they are counted there, once, rather than in each route; the
 * socket's own count would mix the head, the chunked framing and, on a kept-alive connection or
 * an HTTP/2 session, other exchanges. settleBytes() takes off, at the end, what never left.
 */
export function countBodyBytes(res: ServerResponse, outcome: Outcome): void {
  const { write, end } = res;
  // HTTP/2's end(chunk) writes its chunk through this.write(): counted once, by end().
  let ending = false;
  res.write = function (this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    // Written after the client left: never sent (HTTP/2's response has no `destroyed`: its writes then fail).
    if (!ending && this.destroyed !== true) outcome.bytes += lengthOf(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk: Chunk, ...rest: unknown[]) {
    if (this.destroyed !== true) outcome.bytes += lengthOf(chunk, rest[0]);
    ending = true;
    try {
      return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } finally {
      ending = false;
    }
  } as ServerResponse['end'];
}

/**
 * The final count, when the response has closed: nothing for a response that has no body
 * (a HEAD, 1xx, 204, 304: RFC 9112 §6.3; Node drops what is written), and for a client that
 * left, less what was still queued in the process (never handed to the kernel).
 */
export function settleBytes(res: ServerResponse, outcome: Outcome): void {
  const { status } = outcome;
  if (outcome.method === 'HEAD' || status < 200 || status === 204 || status === 304) outcome.bytes = 0;
  else if (!res.writableFinished) outcome.bytes = Math.max(0, outcome.bytes - res.writableLength);
}

/** Notes how long the origin took to send its response head (RFC 9111 §4.2.3's request and response times). */
export function noteOrigin(outcome: Outcome, response: { requestTime: number; responseTime: number }): void {
  outcome.originMs = Math.max(0, response.responseTime - response.requestTime);
}
