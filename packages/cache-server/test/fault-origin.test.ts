import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type net from 'node:net';
import { request, waitFor } from './helpers/http.js';
import { rawReply, startRawOrigin, type RawOrigin, type RawRoute } from './helpers/raw-origin.js';
import { listFiles, startCache, tempDir, type StartedCache } from './helpers/cache.js';

/**
 * Origin faults beyond origin-errors.test.ts (refused, hang before the head, reset before the
 * head) and streaming.test.ts (reset mid-body): responses no HTTP server would send, bodies
 * that stall, end early or run long, and stale-if-error over each fault.
 */
const OK_HEAD = 'HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n';
const ORIGIN_TIMEOUT = 300;

describe('origin faults: a clear 502/504 or a closed connection, nothing partial stored, the cache stays up', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const held = new Set<net.Socket>();

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '/ok': rawReply(`${OK_HEAD}Content-Length: 2\r\n\r\nok`),
      // Invalid heads (Node's client parser, llhttp strict, refuses every one).
      '/garbage-status': rawReply('HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok'),
      '/not-http': rawReply('hello world\r\n\r\n'),
      '/space-in-name': rawReply(`${OK_HEAD}Bad Header: x\r\nContent-Length: 2\r\n\r\nok`),
      '/nul-in-value': rawReply(`${OK_HEAD}X-A: a\0b\r\nContent-Length: 2\r\n\r\nok`),
      '/ctl-in-value': rawReply(`${OK_HEAD}X-A: a\x01b\r\nContent-Length: 2\r\n\r\nok`),
      '/two-lengths': rawReply(`${OK_HEAD}Content-Length: 2\r\nContent-Length: 3\r\n\r\nokk`),
      '/length-list': rawReply(`${OK_HEAD}Content-Length: 2, 2\r\n\r\nok`),
      '/negative-length': rawReply(`${OK_HEAD}Content-Length: -1\r\n\r\nok`),
      '/length-and-chunked': rawReply(
        `${OK_HEAD}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
      ),
      '/obs-fold': rawReply(`${OK_HEAD}X-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok`),
      '/bare-lf': rawReply('HTTP/1.1 200 OK\nCache-Control: max-age=60\nContent-Length: 2\n\nok'),
      '/huge-head': rawReply(`${OK_HEAD}X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\nok`),
      '/head-cut-short': rawReply(`${OK_HEAD}X-A: b\r\n`),
      // Failures after the head.
      '/bad-chunk': rawReply(`${OK_HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nok\r\n0\r\n\r\n`),
      '/shorter-then-fin': rawReply(`${OK_HEAD}Content-Length: 10000\r\n\r\n${'a'.repeat(5000)}`),
      '/hang-mid-body': (socket) => {
        socket.write(`${OK_HEAD}Content-Length: 10000\r\n\r\n${'a'.repeat(5000)}`);
        held.add(socket);
      },
      // Longer than announced: the surplus is a whole forged response (response splitting).
      '/longer-same-packet': rawReply(
        `${OK_HEAD}Content-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=60\r\n\r\nPOISON`,
        'keep',
      ),
      '/longer-later': longerLater,
      '*': answerWithPath,
    });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  const key = (path: string) => `${origin.url}${path}`;
  const tmpFiles = async () => (await listFiles(dir.dir)).filter((file) => file.includes('/v1/tmp/'));

  test.each([
    ['/garbage-status'],
    ['/not-http'],
    ['/space-in-name'],
    ['/nul-in-value'],
    ['/ctl-in-value'],
    ['/two-lengths'],
    ['/length-list'],
    ['/negative-length'],
    ['/length-and-chunked'],
    ['/obs-fold'],
    ['/bare-lf'],
    ['/huge-head'],
    ['/head-cut-short'],
  ])('%s: an invalid response head → 502, nothing stored, other keys still served', async (path) => {
    const reply = await request(cache.url, path);
    expect(reply.status).toBe(502);
    expect(reply.headers['x-cache-error']).toMatch(/^CACHE_ERR_ORIGIN_(BAD_RESPONSE|UNREACHABLE)$/);
    expect(await cache.store.lookup(key(path))).toEqual([]);
    expect((await request(cache.url, '/ok')).body.toString()).toBe('ok');
  });

  test('/bad-chunk: a body that fails in the packet of its head → 502 (nothing was relayed), nothing stored', async () => {
    const reply = await request(cache.url, '/bad-chunk');
    expect(reply.status).toBe(502);
    expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_BAD_RESPONSE');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the failed fetch to settle');
    expect(await cache.store.lookup(key('/bad-chunk'))).toEqual([]);
    expect(await tmpFiles()).toEqual([]);
    expect((await request(cache.url, '/bad-chunk')).status).toBe(502);
    expect(origin.count('/bad-chunk')).toBe(2);
  });

  test.each([['/shorter-then-fin'], ['/hang-mid-body']])(
    '%s: failing after the head closes the client connection, stores nothing, and is asked again next time',
    async (path) => {
      const other = request(cache.url, '/ok');
      await expect(request(cache.url, path)).rejects.toThrow();
      // Another key is served while this one fails.
      expect((await other).body.toString()).toBe('ok');
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the failed fetch to settle');
      expect(await cache.store.lookup(key(path))).toEqual([]);
      expect(await tmpFiles()).toEqual([]);
      await expect(request(cache.url, path)).rejects.toThrow();
      expect(origin.count(path)).toBe(2);
    },
  );

  test.each([['/longer-same-packet'], ['/longer-later']])(
    '%s: a body longer than its Content-Length is cut at the announced length, and the surplus never answers another request',
    async (path) => {
      const first = await request(cache.url, path);
      expect(first.status).toBe(200);
      expect(first.body.toString()).toBe('hello');
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry');
      // The next requests may reuse the origin connection: none of them may get the forged response.
      for (const next of ['/next-1', '/next-2', '/next-3']) {
        const reply = await request(cache.url, next);
        expect(reply.body.toString()).toBe(`body of ${next}`);
      }
      const hit = await request(cache.url, path);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.toString()).toBe('hello');
    },
  );
});

describe('a keep-alive connection the origin closed while it sat in the pool', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const used = new WeakSet<net.Socket>();
  /**
   * `/warm` is always answered (and leaves its connection in the cache's pool); any other request
   * that arrives on a connection already used is reset, as by a server whose idle timeout just fired.
   */
  const resetReused: RawRoute = (socket, head) => {
    const [method, target] = head.split(' ');
    if (used.has(socket) && target !== '/warm') return void socket.destroy();
    used.add(socket);
    const body = `${method} ${target} answered`;
    socket.write(`HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  };

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({ '*': resetReused });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('a GET that meets a reset on a reused connection is sent once more, on a new one', async () => {
    for (const path of ['/get-1', '/get-2']) {
      expect((await request(cache.url, '/warm')).status).toBe(200);
      const reply = await request(cache.url, path);
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe(`GET ${path} answered`);
      expect(origin.count(path)).toBe(2);
    }
  });

  test('an unsafe request is never sent twice: the reset is a 502', async () => {
    expect((await request(cache.url, '/warm')).status).toBe(200);
    const reply = await request(cache.url, '/post', { method: 'POST', body: 'x' });
    expect(reply.status).toBe(502);
    expect(origin.count('/post')).toBe(1);
  });
});

describe('stale-if-error: the stored copy is served whatever way the origin fails', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const failing = new Set<string>();
  const held = new Set<net.Socket>();
  const FAULTS: Record<string, RawRoute> = {
    '/sie-hang': (socket) => void held.add(socket),
    '/sie-reset': (socket) => socket.destroy(),
    '/sie-invalid': rawReply('HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n'),
    '/sie-500': rawReply('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops'),
  };

  beforeAll(async () => {
    dir = await tempDir();
    const routes: Record<string, RawRoute> = {};
    for (const [path, fault] of Object.entries(FAULTS)) {
      routes[path] = (socket, head) => {
        if (failing.has(path)) return fault(socket, head);
        // Stale at once, but may be served stale for ten minutes if the origin fails (RFC 5861 §4).
        socket.end(
          'HTTP/1.1 200 OK\r\nCache-Control: max-age=0, stale-if-error=600\r\nETag: "v1"\r\nContent-Length: 8\r\n\r\nstored-1',
        );
      };
    }
    origin = await startRawOrigin(routes);
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test.each(Object.keys(FAULTS).map((path) => [path]))('%s → the stale copy (X-Cache: STALE)', async (path) => {
    expect((await request(cache.url, path)).body.toString()).toBe('stored-1');
    await waitFor(async () => (await cache.store.lookup(`${origin.url}${path}`)).length === 1, 'the entry');
    failing.add(path);
    const reply = await request(cache.url, path);
    expect(reply.status).toBe(200);
    expect(reply.headers['x-cache']).toBe('STALE');
    expect(reply.body.toString()).toBe('stored-1');
    expect(origin.count(path)).toBe(2);
  });

  test('an origin that refuses connections → the stale copy', async () => {
    const own = await startRawOrigin({
      '/sie-refused': rawReply(
        'HTTP/1.1 200 OK\r\nCache-Control: max-age=0, stale-if-error=600\r\nETag: "v1"\r\nContent-Length: 8\r\n\r\nstored-1',
      ),
    });
    const ownDir = await tempDir();
    const ownCache = await startCache(own.url, ownDir.dir, { originTimeout: ORIGIN_TIMEOUT });
    try {
      await request(ownCache.url, '/sie-refused');
      await waitFor(async () => (await ownCache.store.lookup(`${own.url}/sie-refused`)).length === 1, 'the entry');
      await own.close();
      const reply = await request(ownCache.url, '/sie-refused');
      expect(reply.headers['x-cache']).toBe('STALE');
      expect(reply.body.toString()).toBe('stored-1');
      expect(reply.headers['cache-status']).toMatch(/detail=CACHE_ERR_ORIGIN_UNREACHABLE/);
    } finally {
      await ownCache.close();
      await ownDir.cleanup();
    }
  });
});

/** `body of <path>`, keeping the connection open for the next request. */
function answerWithPath(socket: net.Socket, head: string): void {
  const body = `body of ${head.split(' ')[1] ?? '/'}`;
  socket.write(`${OK_HEAD}Content-Length: ${body.length}\r\n\r\n${body}`);
}

/** `hello` as announced, then, while the connection sits in the cache's pool, a forged response. */
function longerLater(socket: net.Socket): void {
  socket.write(`${OK_HEAD}Content-Length: 5\r\n\r\nhello`);
  setTimeout(() => {
    if (!socket.destroyed) socket.write(`${OK_HEAD}Content-Length: 6\r\n\r\nPOISON`);
  }, 5);
}
