import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http2';
import { MAX_RELAYED_INTERIMS } from '../src/proxy/respond/send-interim.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { closeH2, connectH2 } from './helpers/h2.js';
import { waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/**
 * FINDINGS F-conf-1: interim (1xx) responses from the origin reach the client before the final
 * one (RFC 9110 §15.2: a proxy MUST forward them; 103 Early Hints, RFC 8297), on a miss, a
 * revalidation and a pass-through, and are never stored: a hit has none (the cache-tests suite's
 * required `interim-not-cached`). 100 (the cache answers Expect itself), 1xx statuses nobody acts
 * on, HTTP/1.0 clients and pipelined requests whose turn has not come get none.
 */
const LINK = '</s.css>; rel=preload; as=style';
/** How many 103s, then how many 102s, the flooding origin sends before its final response. */
const FLOOD = 200;
const FINAL = (body: string, fields = 'Cache-Control: max-age=60\r\n') =>
  `HTTP/1.1 200 OK\r\n${fields}Content-Length: ${body.length}\r\n\r\n${body}`;

/** What a real HTTP/1.1 client (node:http) saw: the interim statuses and fields, then the final response. */
function get(
  base: string,
  path: string,
  options: { method?: string; body?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<{
  interims: { status: number; headers: http.IncomingHttpHeaders }[];
  status: number;
  xCache: string;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const interims: { status: number; headers: http.IncomingHttpHeaders }[] = [];
    const req = http.request(`${base}${path}`, {
      method: options.method ?? 'GET',
      agent: false,
      headers: options.headers,
    });
    req.on('information', (info) => interims.push({ status: info.statusCode, headers: info.headers }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ interims, status: res.statusCode ?? 0, xCache: String(res.headers['x-cache']), body }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('interim responses from the origin (RFC 9110 §15.2, RFC 8297)', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    const hintsThen = (final: string) => (socket: import('node:net').Socket) => {
      socket.write(
        `HTTP/1.1 103 Early Hints\r\nLink: ${LINK}\r\nKeep-Alive: timeout=5\r\nSurrogate-Key: secret-tag\r\n\r\n`,
      );
      // The final response in a later packet: the client gets the hint while the origin works.
      setImmediate(() => socket.write(final));
    };
    origin = await startRawOrigin({
      '/miss': hintsThen(FINAL('page')),
      '/http10': hintsThen(FINAL('page')),
      '/post': hintsThen(FINAL('made', 'Cache-Control: no-store\r\n')),
      '/stale': (socket, head) =>
        /if-none-match/i.test(head)
          ? hintsThen('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nCache-Control: max-age=60\r\n\r\n')(socket)
          : socket.write(FINAL('old', 'Cache-Control: max-age=0\r\nETag: "v1"\r\n')),
      '/processing': (socket) => socket.write(`HTTP/1.1 102 Processing\r\n\r\n${FINAL('done')}`),
      '/continue': (socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${FINAL('done')}`),
      '/unknown': (socket) => socket.write(`HTTP/1.1 150 Whatever\r\nLink: ${LINK}\r\n\r\n${FINAL('done')}`),
      '/no-link': (socket) => socket.write(`HTTP/1.1 103 Early Hints\r\n\r\n${FINAL('done')}`),
      '/slow': (socket) => setTimeout(() => socket.write(FINAL('slow', 'Cache-Control: no-store\r\n')), 50),
      '/queued': hintsThen(FINAL('second')),
      // An origin (or an application behind it) that keeps sending interim responses.
      '/flood': (socket) => {
        socket.write(`HTTP/1.1 103 Early Hints\r\nLink: ${LINK}\r\n\r\n`.repeat(FLOOD));
        setImmediate(() => socket.write(`HTTP/1.1 102 Processing\r\n\r\n`.repeat(FLOOD)));
        setImmediate(() => setImmediate(() => socket.write(FINAL('flooded'))));
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('a miss relays the 103 before the final response; the hit that follows has none (interim-not-cached)', async () => {
    const miss = await get(cache.url, '/miss');
    expect(miss.interims.map((interim) => interim.status)).toEqual([103]);
    expect(miss.interims[0]?.headers.link).toBe(LINK);
    // Hop-by-hop fields and purge tags stay with the cache, as on final responses.
    expect(miss.interims[0]?.headers['keep-alive']).toBeUndefined();
    expect(miss.interims[0]?.headers['surrogate-key']).toBeUndefined();
    expect([miss.status, miss.xCache, miss.body]).toEqual([200, 'MISS', 'page']);
    await waitFor(async () => (await cache.store.lookup(`${origin.url}/miss`)).length === 1, 'the entry');
    const hit = await get(cache.url, '/miss');
    expect([hit.interims, hit.status, hit.xCache, hit.body]).toEqual([[], 200, 'HIT', 'page']);
    expect(origin.count('/miss')).toBe(1);
  });

  test('a pass-through (POST) relays the 103', async () => {
    const reply = await get(cache.url, '/post', { method: 'POST', body: 'x', headers: { 'content-length': 1 } });
    expect(reply.interims.map((interim) => interim.status)).toEqual([103]);
    expect([reply.status, reply.xCache, reply.body]).toEqual([200, 'BYPASS', 'made']);
  });

  test('a revalidation relays the 103 that comes before the 304', async () => {
    expect((await get(cache.url, '/stale')).body).toBe('old');
    await waitFor(async () => (await cache.store.lookup(`${origin.url}/stale`)).length === 1, 'the entry');
    const reply = await get(cache.url, '/stale');
    expect(reply.interims.map((interim) => interim.status)).toEqual([103]);
    expect([reply.status, reply.xCache, reply.body]).toEqual([200, 'REVALIDATED', 'old']);
  });

  test(`of ${FLOOD * 2} interim responses, the first ${MAX_RELAYED_INTERIMS} are relayed, the rest dropped; the final response and the hit are whole (FINDINGS F28)`, async () => {
    const miss = await get(cache.url, '/flood');
    expect(miss.interims.map((interim) => interim.status)).toEqual(Array(MAX_RELAYED_INTERIMS).fill(103));
    expect([miss.status, miss.xCache, miss.body]).toEqual([200, 'MISS', 'flooded']);
    await waitFor(async () => (await cache.store.lookup(`${origin.url}/flood`)).length === 1, 'the entry');
    const hit = await get(cache.url, '/flood');
    expect([hit.interims, hit.status, hit.xCache, hit.body]).toEqual([[], 200, 'HIT', 'flooded']);
  });

  test('102 Processing is relayed', async () => {
    const reply = await get(cache.url, '/processing');
    expect(reply.interims.map((interim) => interim.status)).toEqual([102]);
    expect(reply.body).toBe('done');
  });

  test.each([
    ['/continue', 'a 100 the cache did not pass on a request for (it answers Expect itself)'],
    ['/unknown', 'a 1xx status with no defined meaning'],
    ['/no-link', 'a 103 without Link'],
  ])('%s: not relayed (%s); the final response is', async (path) => {
    const reply = await get(cache.url, path);
    expect(reply.interims).toEqual([]);
    expect([reply.status, reply.body]).toEqual([200, 'done']);
  });

  test('an HTTP/1.0 client gets no interim response (RFC 9110 §15.2)', async () => {
    const reply = await rawExchange(cache.url, 'GET /http10 HTTP/1.0\r\nHost: cache.test\r\n\r\n');
    expect(reply.text).not.toMatch(/^HTTP\/1\.1 1\d\d/m);
    expect(reply.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.text.endsWith('page')).toBe(true);
  });

  test('a pipelined request whose turn has not come gets no interim inside the response before it', async () => {
    const reply = await rawExchange(
      cache.url,
      'GET /slow HTTP/1.1\r\nHost: cache.test\r\n\r\nGET /queued HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\n\r\n',
      5_000,
    );
    expect(reply.closedByServer).toBe(true);
    expect(reply.statuses).toEqual([200, 200]);
    // Each response whole and in order: no interim bytes inside the first one's body.
    expect(reply.text).toMatch(/\r\n\r\nslowHTTP\/1\.1 200 /);
    expect(reply.text.endsWith('second')).toBe(true);
  });
});

describe('interim responses to an HTTP/2 client', () => {
  const env = useTlsOriginAndCache({
    '/h2-hints': (_req, res) => {
      res.writeEarlyHints({ link: LINK });
      setImmediate(() => {
        res.writeHead(200, { 'content-length': 2, 'cache-control': 'max-age=60' });
        res.end('h2');
      });
    },
  });

  test('a miss relays the 103 as an informational HEADERS frame; the hit has none', async () => {
    const session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      const exchange = () =>
        new Promise<{ interims: IncomingHttpHeaders[]; status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ':path': '/h2-hints' });
          const interims: IncomingHttpHeaders[] = [];
          let status = 0;
          let body = '';
          stream.on('headers', (headers) => interims.push(headers));
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.setEncoding('latin1');
          stream.on('data', (chunk: string) => (body += chunk));
          stream.on('end', () => resolve({ interims, status, body }));
          stream.on('error', reject);
        });
      const miss = await exchange();
      expect(miss.interims.map((headers) => Number(headers[':status']))).toEqual([103]);
      expect(miss.interims[0]?.link).toBe(LINK);
      expect([miss.status, miss.body]).toEqual([200, 'h2']);
      const key = `${env.origin.url}/h2-hints`;
      await waitFor(async () => (await env.cache.store.lookup(key)).length === 1, 'the entry');
      const hit = await exchange();
      expect([hit.interims, hit.status, hit.body]).toEqual([[], 200, 'h2']);
      expect(env.origin.requests.filter((seen) => seen.url === '/h2-hints')).toHaveLength(1);
    } finally {
      await closeH2(session);
    }
  });
});
