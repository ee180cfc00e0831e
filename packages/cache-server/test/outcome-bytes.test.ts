/**
 * Issue 17: an Outcome's `bytes` (the access line's `bytes`, the response-bytes metric) is the
 * body bytes really sent to the client, as nginx's `$body_bytes_sent`, whatever the framing: a
 * chunked miss or pass-through counts its body, a HEAD or a 304 nothing, a range its part, a
 * client that left what went out before it did. Everything is seen from the outside: a raw origin
 * answering chunked, real clients (node:http, raw sockets, node:http2), the access log file read
 * after the cache closed.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import path from 'node:path';
import type { CacheServerConfig } from '@simple-cache/common';
import { readAccessLines, type AccessLine } from './helpers/access-lines.js';
import { metricValue, PREFIX } from './helpers/admin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { request, waitFor } from './helpers/http.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';

const BODY = 'hello, chunked world'; // 20 bytes
const chunked = (cacheControl: string) =>
  `HTTP/1.1 200 OK\r\nCache-Control: ${cacheControl}\r\nETag: "v1"\r\nTransfer-Encoding: chunked\r\n\r\n` +
  `7\r\nhello, \r\nd\r\nchunked world\r\n0\r\n\r\n`;

/** What the slow route has sent before it holds (the client leaves meanwhile). */
const SENT_BEFORE_HOLDING = 256 * 1024;

let origin: RawOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCertificates;
const held: net.Socket[] = [];

beforeAll(async () => {
  dir = await tempDir();
  certs = await makeCertificates(dir.dir);
  origin = await startRawOrigin({
    '/stored': (socket) => socket.write(chunked('max-age=600')),
    '/passed': (socket) => socket.write(chunked('no-store')),
    '/length': (socket) =>
      socket.write(`HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`),
    // No response: the cache answers 502 with its own body (res.end(body): counted once on HTTP/2 too).
    '/reset': (socket) => socket.destroy(),
    // A long chunked body of which the first part comes at once, the rest never (until the end).
    '/slow': (socket) => {
      held.push(socket);
      socket.write(
        `HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${SENT_BEFORE_HOLDING.toString(16)}\r\n${'x'.repeat(SENT_BEFORE_HOLDING)}\r\n`,
      );
    },
  });
});
afterAll(async () => {
  for (const socket of held) socket.destroy();
  await origin?.close();
  await dir?.cleanup();
});

/** A cache logging JSON lines to its own file (HTTPS too); `run` sends the requests, then it closes. */
async function linesOf(run: (cache: StartedCache) => Promise<void>, extra: Partial<CacheServerConfig> = {}) {
  const file = path.join(dir.dir, `access-${Math.random().toString(36).slice(2)}.log`);
  const cache = await startCache(origin.url, `${file}.cache`, {
    accessLog: 'json',
    accessLogFile: file,
    ...extra,
  });
  try {
    await run(cache);
  } finally {
    await cache.close();
  }
  return (await readAccessLines(file)).filter((line) => !line.path.startsWith(PREFIX));
}

async function stored(cache: StartedCache, pathname: string): Promise<void> {
  await waitFor(async () => (await cache.store.lookup(`${origin.url}${pathname}`)).length > 0, `${pathname} stored`);
}

describe('bytes are the body bytes sent, for every route', () => {
  let lines: AccessLine[];
  let metricsBytes: { cache: number; origin: number };
  let errorBytes = 0;

  beforeAll(async () => {
    lines = await linesOf(async (cache) => {
      const get = (pathname: string, headers: Record<string, string> = {}, method = 'GET') =>
        request(cache.url, pathname, { method, headers });
      expect((await get('/stored')).body.toString()).toBe(BODY); // miss, chunked
      await stored(cache, '/stored');
      expect((await get('/stored')).headers['x-cache']).toBe('HIT'); // hit (fast path)
      expect((await get('/stored', {}, 'HEAD')).body.length).toBe(0); // HEAD hit
      expect((await get('/stored', { 'if-none-match': '"v1"' })).status).toBe(304);
      const range = await get('/stored', { range: 'bytes=7-13' });
      expect([range.status, range.body.toString()]).toEqual([206, 'chunked']);
      expect((await get('/passed')).body.toString()).toBe(BODY); // pass-through of a miss, chunked
      expect((await get('/passed', {}, 'POST')).headers['x-cache']).toBe('BYPASS'); // pass route
      expect((await get('/length')).body.toString()).toBe(BODY); // Content-Length
      expect((await get('/passed', {}, 'HEAD')).body.length).toBe(0); // HEAD miss
      const error = await get('/reset');
      expect(error.status).toBe(502);
      errorBytes = error.body.length;
      const metrics = (await request(cache.url, `${PREFIX}/metrics`)).body.toString();
      metricsBytes = {
        cache: metricValue(metrics, 'simple_cache_response_bytes_total', { source: 'cache' }) ?? 0,
        origin: metricValue(metrics, 'simple_cache_response_bytes_total', { source: 'origin' }) ?? 0,
      };
    });
  });

  test('the access lines', () => {
    expect(lines.map((line) => `${line.method} ${line.path} ${line.status} ${line.cache} ${line.bytes}`)).toEqual([
      'GET /stored 200 MISS 20',
      'GET /stored 200 HIT 20',
      'HEAD /stored 200 HIT 0',
      'GET /stored 304 HIT 0',
      'GET /stored 206 HIT 7',
      'GET /passed 200 MISS 20',
      'POST /passed 200 BYPASS 20',
      'GET /length 200 MISS 20',
      'HEAD /passed 200 MISS 0',
      `GET /reset 502 MISS ${errorBytes}`,
    ]);
    expect(errorBytes).toBeGreaterThan(0);
  });

  test('the metric counts the same bytes, by where they came from', () => {
    expect(metricsBytes).toEqual({ cache: 20 + 7, origin: 20 + 20 + 20 + 20 });
  });
});

describe('a client that leaves mid-body', () => {
  test('counts what was sent before it left: no more than the origin gave, no less than the client got', async () => {
    let received = 0;
    const lines = await linesOf(async (cache) => {
      const { port } = new URL(cache.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
      let head = true;
      await new Promise<void>((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          let body = chunk;
          if (head) {
            const end = chunk.indexOf('\r\n\r\n');
            if (end === -1) return;
            head = false;
            body = chunk.subarray(end + 4);
          }
          received += body.length;
          // Part of the body has arrived: the client goes.
          if (received >= 64 * 1024) {
            socket.destroy();
            resolve();
          }
        });
      });
      // The cache has seen the client go (its Outcome is reported when the response closes).
      await waitFor(async () => {
        const metrics = (await request(cache.url, `${PREFIX}/metrics`)).body.toString();
        return (metricValue(metrics, 'simple_cache_client_aborts_total') ?? 0) >= 1;
      }, 'the abort to be counted');
    });
    expect(lines).toHaveLength(1);
    const [line] = lines as [AccessLine];
    expect(line).toMatchObject({ path: '/slow', status: 200, aborted: true });
    // What the client counted includes the chunked framing: a few bytes per chunk.
    expect(line.bytes).toBeGreaterThanOrEqual(received - 256);
    expect(line.bytes).toBeLessThanOrEqual(SENT_BEFORE_HOLDING);
  });
});

describe('HTTP/2: each stream counts its own body', () => {
  test('streams on one session: a chunked miss, a pass-through, a range of the stored copy, an error', async () => {
    let errorBytes = 0;
    const lines = await linesOf(
      async (cache) => {
        const session = await connectH2(cache.tlsUrl as string, certs.ca);
        try {
          const [miss, passed] = await Promise.all([h2Request(session, '/stored'), h2Request(session, '/passed')]);
          expect([miss.body.toString(), passed.body.toString()]).toEqual([BODY, BODY]);
          await stored(cache, '/stored');
          const range = await h2Request(session, '/stored', { headers: { range: 'bytes=0-4' } });
          expect(range.body.toString()).toBe('hello');
          const error = await h2Request(session, '/reset');
          expect(error.status).toBe(502);
          errorBytes = error.body.length;
        } finally {
          await closeH2(session);
        }
      },
      { tlsCert: certs.certFile, tlsKey: certs.keyFile },
    );
    expect(lines.map((line) => `${line.path} ${line.status} ${line.bytes}`).sort()).toEqual([
      '/passed 200 20',
      `/reset 502 ${errorBytes}`,
      '/stored 200 20',
      '/stored 206 5',
    ]);
    // Read when each stream arrived: at its end the stream no longer reaches the socket (F20).
    expect(lines.map((line) => line.client)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
    expect(errorBytes).toBeGreaterThan(0);
  });
});
