import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable } from 'node:stream';
import got, { RequestError, type Request as GotRequest } from 'got';
import type { HeaderMap } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';

export interface OriginRequest {
  method: string;
  url: string;
  headers: HeaderMap;
  /** Request body to stream to the origin (unsafe methods); undefined → none. */
  body?: Readable;
}

export interface OriginResponse {
  status: number;
  headers: HeaderMap;
  /**
   * The response body; errors when the origin fails mid-body. It may have failed already when
   * the promise resolves (check `body.errored`): no 'error' event is left unhandled.
   */
  body: Readable;
  /** Wall clock (ms) when the request was sent and when the response head arrived (RFC 9111 §4.2.3). */
  requestTime: number;
  responseTime: number;
}

export interface OriginClient {
  /** Resolves once the response head arrives; rejects with a CacheError (502/504) otherwise. */
  request(req: OriginRequest): Promise<OriginResponse>;
  close(): void;
}

/** Fields that describe a request body's framing: meaningless, and dangerous, without a body. */
const BODY_FRAMING_FIELDS = ['content-length', 'transfer-encoding', 'expect'];

/** Methods whose got stream ends the request by itself (it refuses them a body). */
const METHODS_GOT_ENDS = new Set(['GET', 'HEAD']);

export interface OriginClientOptions {
  /** Milliseconds to wait for the response head, and between body bytes. */
  timeout: number;
  /** Most request body bytes forwarded (pass-through); more is refused with 413. */
  maxBodySize?: number;
}

/**
 * The only module that speaks HTTP to the origin. No retries: a cache must not repeat unsafe
 * requests, and for safe ones a fast, clear 502/504 beats a slow one. The one exception is a
 * stale keep-alive connection (see isStaleConnection). No decompression and no redirects: the
 * cache stores and relays exactly what the origin sent.
 */
export function createOriginClient(options: OriginClientOptions): OriginClient {
  const maxBodySize = options.maxBodySize ?? Number.POSITIVE_INFINITY;
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 256 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };
  const client = got.extend({
    throwHttpErrors: false,
    decompress: false,
    followRedirect: false,
    retry: { limit: 0 },
    // `response`: until the head arrives; `socket`: idle time on the connection, which bounds an
    // origin that stalls in the middle of a body.
    timeout: { response: options.timeout, socket: options.timeout },
    agent: agents,
    http2: false,
  });

  /** One attempt; `fresh` forces a new connection (the retry after a stale pooled one). */
  function send(req: OriginRequest, fresh: boolean): Promise<OriginResponse> {
    const requestTime = Date.now();
    return new Promise<OriginResponse>((resolve, reject) => {
      if (Number(req.headers['content-length']) > maxBodySize) {
        reject(new CacheError(ERRORS.bodyTooLarge));
        return;
      }
      let tooLarge = false;
      const body = req.body ? limitBody(req.body, maxBodySize, () => (tooLarge = true)) : undefined;
      let stream: GotRequest;
      try {
        stream = client.stream(req.url, {
          method: req.method as 'GET',
          headers: { 'user-agent': undefined, ...requestHeaders(req) } as unknown as Record<string, string>,
          ...(body ? { body } : {}),
          ...(fresh ? { agent: { http: new http.Agent(), https: new https.Agent() } } : {}),
        });
      } catch (error) {
        reject(toCacheError(error));
        return;
      }
      // In stream mode got sends a request of any method but GET and HEAD only once its stream is
      // ended (it waits for a body to be written): a bodiless DELETE, PUT, POST… must be ended here.
      if (!body && !METHODS_GOT_ENDS.has(req.method)) stream.end();
      const onEarlyError = (error: unknown) => {
        if (!fresh && isStaleConnection(req, stream, error)) {
          resolve(send(req, true));
          return;
        }
        reject(tooLarge ? new CacheError(ERRORS.bodyTooLarge, { cause: error }) : toCacheError(error));
      };
      stream.once('error', onEarlyError);
      stream.once('response', (response: http.IncomingMessage) => {
        stream.off('error', onEarlyError);
        // Mid-body failures surface as the stream's 'error' (map them with toCacheError). One can
        // come in the same packet as the head, before the caller has attached its listeners:
        // this one keeps that from crashing the process, and the caller finds it in `errored`.
        stream.on('error', () => {});
        resolve({
          status: response.statusCode ?? 502,
          headers: response.headers,
          body: stream as unknown as Readable,
          requestTime,
          responseTime: Date.now(),
        });
      });
    });
  }

  return {
    request: (req) => send(req, false),
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/**
 * A pooled connection the origin had closed while it sat idle (its keep-alive timeout, a restart)
 * fails the moment it is used, before any response byte: the request never reached the origin.
 * A body-less GET or HEAD (idempotent, RFC 9110 §9.2.2) is then sent once more on a new
 * connection, as Node's documentation advises (`request.reusedSocket`) and browsers do.
 */
function isStaleConnection(req: OriginRequest, stream: GotRequest, error: unknown): boolean {
  if (req.body || (req.method !== 'GET' && req.method !== 'HEAD') || stream.reusedSocket !== true) return false;
  const code = (error as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * The headers sent. Without a body, no framing fields: a GET that arrived with `Content-Length`
 * must not make the origin wait for a body that never comes (or read the next request as one).
 * A body without Content-Length (the client sent it chunked; Transfer-Encoding is hop-by-hop and
 * was removed) goes chunked: Node frames no other way a DELETE's or OPTIONS's body, and would
 * send its bytes bare, for the origin to read as the next request on the connection.
 */
function requestHeaders(req: OriginRequest): HeaderMap {
  if (req.body) {
    return req.headers['content-length'] === undefined
      ? { ...req.headers, 'transfer-encoding': 'chunked' }
      : req.headers;
  }
  const headers = { ...req.headers };
  for (const name of BODY_FRAMING_FIELDS) delete headers[name];
  return headers;
}

/** Passes `body` through, failing once more than `maxBytes` have gone by. */
function limitBody(body: Readable, maxBytes: number, onTooLarge: () => void): Readable {
  let bytes = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes <= maxBytes) return done(null, chunk);
      onTooLarge();
      done(new CacheError(ERRORS.bodyTooLarge));
    },
  });
  body.once('error', (error) => limited.destroy(error));
  return body.pipe(limited);
}

/** Maps any origin failure (got's or the socket's) onto the catalogue: timeouts → 504, the rest → 502. */
export function toCacheError(error: unknown): CacheError {
  if (error instanceof CacheError) return error;
  const code = error instanceof RequestError ? error.code : (error as { code?: string })?.code;
  if (code === 'ETIMEDOUT' || (error as Error)?.name === 'TimeoutError') {
    return new CacheError(ERRORS.originTimeout, { cause: error });
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH'
  ) {
    return new CacheError(ERRORS.originUnreachable, { cause: error });
  }
  return new CacheError(ERRORS.originBadResponse, { cause: error });
}
