import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
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
  /** The response body; errors with a CacheError when the origin fails mid-body. */
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

/**
 * The only module that speaks HTTP to the origin. No retries: a cache must not repeat unsafe
 * requests, and for safe ones a fast, clear 502/504 beats a slow one. No decompression and no
 * redirects: the cache stores and relays exactly what the origin sent.
 */
export function createOriginClient(options: { timeout: number }): OriginClient {
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

  return {
    request(req) {
      const requestTime = Date.now();
      return new Promise<OriginResponse>((resolve, reject) => {
        let stream: GotRequest;
        try {
          stream = client.stream(req.url, {
            method: req.method as 'GET',
            headers: { 'user-agent': undefined, ...req.headers } as unknown as Record<string, string>,
            ...(req.body ? { body: req.body } : {}),
          });
        } catch (error) {
          reject(toCacheError(error));
          return;
        }
        const onEarlyError = (error: unknown) => reject(toCacheError(error));
        stream.once('error', onEarlyError);
        stream.once('response', (response: http.IncomingMessage) => {
          stream.off('error', onEarlyError);
          // Mid-body failures surface as the stream's 'error' (map them with toCacheError).
          const body = stream as unknown as Readable;
          resolve({
            status: response.statusCode ?? 502,
            headers: response.headers,
            body,
            requestTime,
            responseTime: Date.now(),
          });
        });
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
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
