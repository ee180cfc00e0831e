import type http from 'node:http';
import { expect } from '@jest/globals';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCache, tempDir, type StartedCache } from './cache.js';
import { httpDate } from './clock.js';
import { request, waitFor, type Reply } from './http.js';
import { startTestOrigin, type Route, type TestOrigin } from './test-origin.js';

/** Header fields by name; an array is one line per value. */
export type Fields = Record<string, number | string | string[]>;

/** Response headers, or a function of the (faked) clock for headers that hold dates. */
export type Headers = Fields | ((now: number) => Fields);

/** A cache in front of a programmable origin: what each rfc-*.test.ts file starts once. */
export interface Harness {
  origin: TestOrigin;
  cache: StartedCache;
  /** One request to the cache (fresh connection, exact headers). */
  get(path: string, headers?: Fields, method?: string): Promise<Reply>;
  /** Requests the origin saw for `path` (exact path and query). */
  seen(path: string): number;
  /** Resolves once no origin fetch is in flight (so what was fetched is stored, or known not to be). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(
  routes: Record<string, Route> = {},
  config: Partial<CacheServerConfig> = {},
): Promise<Harness> {
  const dir = await tempDir();
  const origin = await startTestOrigin(routes);
  const cache = await startCache(origin.url, dir.dir, config);
  return {
    origin,
    cache,
    get: (path, headers = {}, method = 'GET') =>
      request(cache.url, path, { method, headers: headers as http.OutgoingHttpHeaders }),
    seen: (path) => origin.count(path),
    settle: () => waitFor(() => cache.proxy.inFlight.size === 0, 'the origin fetches to settle'),
    close: async () => {
      await cache.close();
      await origin.close();
      await dir.cleanup();
    },
  };
}

/**
 * A route answering `status` with `headers` and `body`. A Date from the faked clock is added
 * unless the headers set one (Node's own Date is not faked), so ages are the test's to control.
 */
export function respond(headers: Headers = {}, body: string | Buffer = 'body', status = 200): Route {
  return (_req, res) => {
    const fields = typeof headers === 'function' ? headers(Date.now()) : headers;
    const bytes = Buffer.from(body);
    const bodiless = status === 204 || status === 304;
    const head: Fields = { date: httpDate(), ...(bodiless ? {} : { 'content-length': bytes.length }), ...fields };
    res.writeHead(status, head as http.OutgoingHttpHeaders);
    res.end(bodiless ? undefined : bytes);
  };
}

/** Answers the n-th request with the n-th route; the last one answers every request after. */
export function sequence(...routes: Route[]): Route {
  let calls = 0;
  return (req, res, body) => {
    const route = routes[Math.min(calls++, routes.length - 1)] as Route;
    route(req, res, body);
  };
}

/** The parameters of this cache's Cache-Status member (RFC 9211), e.g. `fwd=stale; fwd-status=304`. */
export function cacheStatusOf(reply: Pick<Reply, 'headers'>, name = 'simple-cache'): string {
  const value = String(reply.headers['cache-status'] ?? '');
  const member = value.split(', ').find((item) => item.startsWith(`${name};`) || item === name) ?? '';
  return member.slice(name.length).replace(/^; /, '');
}

/**
 * Like `respond`, but a request whose If-None-Match names the ETag (or whose If-Modified-Since
 * equals the Last-Modified) gets a 304 with `notModified` headers (the response's own by default).
 */
export function validating(headers: Headers, body = 'body', notModified?: Headers): Route {
  return (req, res, reqBody) => {
    const fields = typeof headers === 'function' ? headers(Date.now()) : headers;
    const etag = fields.etag as string | undefined;
    const lastModified = fields['last-modified'] as string | undefined;
    const matches =
      (etag !== undefined && req.headers['if-none-match'] === etag) ||
      (lastModified !== undefined && req.headers['if-modified-since'] === lastModified);
    if (matches) return respond(notModified ?? fields, '', 304)(req, res, reqBody);
    respond(fields, body)(req, res, reqBody);
  };
}

/**
 * One row of a reuse table: a resource's response headers, how many seconds after it was stored
 * it is asked for again, and whether that answer is a HIT or goes to the origin.
 */
export type ReuseRow = [rule: string, headers: Headers, secondsLater: number, expected: 'HIT' | 'origin'];

/** The routes of a reuse table: row i answered at `${prefix}${i}`. */
export function reuseRoutes(rows: readonly ReuseRow[], prefix: string): Record<string, Route> {
  return Object.fromEntries(rows.map(([, headers], i) => [`${prefix}${i}`, respond(headers)]));
}

/**
 * Fetches `path` (a MISS), moves the faked clock `secondsLater`, asks again: a HIT that did not
 * reach the origin, or an answer that did.
 */
export async function expectReuse(
  h: Harness,
  clock: { advance(seconds: number): void },
  path: string,
  secondsLater: number,
  expected: 'HIT' | 'origin',
): Promise<void> {
  expect((await h.get(path)).headers['x-cache']).toBe('MISS');
  await h.settle();
  clock.advance(secondsLater);
  const again = await h.get(path);
  await h.settle();
  expect(again.headers['x-cache'] === 'HIT').toBe(expected === 'HIT');
  expect(h.seen(path)).toBe(expected === 'HIT' ? 1 : 2);
}
