import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { startCache, type StartedCache, startTestCache, tempDir } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { request, waitFor } from './helpers/http.js';
import { startRawOrigin, type RawOrigin, type RawRoute } from './helpers/raw-origin.js';
import { readOneResponse, type ReadResponse } from './helpers/raw-response.js';

/**
 * Framing faults from the origin (issues 12.2, 12.3 and 13.3), every one against every way a
 * client can meet it: a miss (GET, HEAD, Range, two clients collapsed), the revalidation of a
 * stored entry (GET, HEAD), a pass-through (POST, DELETE). Whatever the fault, the client gets a
 * response it can finish reading: complete by its own framing, or cut by a closed connection once
 * the head went out; before the head, a clear 502/504. Never a client left waiting.
 */
const ORIGIN_TIMEOUT = 500;
/** Far longer than any answer takes: reaching it means the client was left waiting. */
const WAIT_MS = 8_000;

const STALE = 'Cache-Control: max-age=0\r\nETag: "v2"\r\n';
const FAULTS: Record<string, RawRoute> = {
  // More bytes than Content-Length, in the same packet: not HTTP, then a whole forged response.
  'longer-garbage': (socket) => socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 10\r\n\r\n${'x'.repeat(40)}`),
  'shorter-then-close': (socket) =>
    socket.end(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 40\r\n\r\n${'x'.repeat(10)}`),
  'shorter-then-stall': (socket) =>
    socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 40\r\n\r\n${'x'.repeat(10)}`),
  'bad-chunk-size': (socket) =>
    socket.write(`HTTP/1.1 200 OK\r\n${STALE}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`),
  'chunked-unfinished-close': (socket) =>
    socket.end(`HTTP/1.1 200 OK\r\n${STALE}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`),
  'chunked-unfinished-stall': (socket) =>
    socket.write(`HTTP/1.1 200 OK\r\n${STALE}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`),
  'no-length-stall': (socket) => socket.write(`HTTP/1.1 200 OK\r\n${STALE}\r\nsome body`),
  // Delimited by the connection's end, which comes as a reset: the body may be cut anywhere.
  'close-delimited-reset': (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\n${STALE}Connection: close\r\n\r\nhello`);
    // Once the bytes have left (reset at once, Node closes cleanly instead).
    setTimeout(() => socket.resetAndDestroy(), 5);
  },
  '304-with-body': (socket) =>
    socket.write(
      'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\n0123456789',
    ),
  '304-with-length': (socket) =>
    socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\n'),
  '204-with-body': (socket) => socket.write(`HTTP/1.1 204 No Content\r\n${STALE}Content-Length: 5\r\n\r\nhello`),
  // A body also in answer to a HEAD (the revalidation of a HEAD is a HEAD).
  'body-for-head': (socket) => socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 5\r\n\r\nhello`),
  'length-zero-then-bytes': (socket) => socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 0\r\n\r\nextra`),
  // 1xx: a 101 nobody asked for, an interim response and then nothing, an interim then a final one.
  '101-unasked': (socket) =>
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n'),
  '102-only': (socket) => socket.write('HTTP/1.1 102 Processing\r\n\r\n'),
  '100-only': (socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\n'),
  '102-then-200': (socket) =>
    socket.write(`HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\n${STALE}Content-Length: 2\r\n\r\nok`),
};

type Flow = 'get' | 'head' | 'range' | 'collapsed' | 'revalidate-get' | 'revalidate-head' | 'post' | 'delete';
const FLOWS: Flow[] = ['get', 'head', 'range', 'collapsed', 'revalidate-get', 'revalidate-head', 'post', 'delete'];
const CASES = Object.keys(FAULTS).flatMap((fault) => FLOWS.map((flow) => [fault, flow] as const));

const METHOD: Record<Flow, string> = {
  get: 'GET',
  head: 'HEAD',
  range: 'GET',
  collapsed: 'GET',
  'revalidate-get': 'GET',
  'revalidate-head': 'HEAD',
  post: 'POST',
  delete: 'DELETE',
};

/** One request as `flow` sends it, read the way a careful client reads it. */
function send(cache: StartedCache, flow: Flow, path: string): Promise<ReadResponse> {
  const method = METHOD[flow];
  const extra = flow === 'range' ? 'Range: bytes=2-5\r\n' : method === 'POST' ? 'Content-Length: 2\r\n' : '';
  const body = method === 'POST' ? 'hi' : '';
  return readOneResponse(cache.url, `${method} ${path} HTTP/1.1\r\nHost: cache.test\r\n${extra}\r\n${body}`, {
    head: method === 'HEAD',
    waitMs: WAIT_MS,
  });
}

/** The client can finish: complete, or cut by a close after the head; without a head, a catalogue 502/504. */
function expectFinished(reply: ReadResponse): void {
  expect(reply.complete || reply.closedByServer).toBe(true);
  if (reply.status === 0) throw new Error('the connection closed without any response: no clear error');
  if (reply.status >= 502) expect(reply.headers['x-cache-error']).toMatch(/^CACHE_ERR_ORIGIN_/);
  // Never more bytes than announced.
  if (reply.headers['content-length'] !== undefined) {
    expect(reply.body.length).toBeLessThanOrEqual(Number(reply.headers['content-length']));
  }
}

describe('framing faults from the origin never leave a client waiting (issues 12.2, 12.3, 13.3)', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const sockets = new Set<net.Socket>();
  /** The connection each request arrived on, by path, in order. */
  const connections = new Map<string, net.Socket[]>();

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '*': (socket, head) => {
        sockets.add(socket);
        const path = head.split(' ')[1] ?? '/';
        connections.set(path, [...(connections.get(path) ?? []), socket]);
        const [, fault = '', flow = ''] = path.split('/');
        if (fault === 'ok') return void socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        // A revalidation flow first stores a good response; the fault answers its revalidation.
        if (flow.startsWith('revalidate') && !/^if-none-match:/im.test(head)) {
          return void socket.write(
            'HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\nhello',
          );
        }
        FAULTS[fault]?.(socket, head);
      },
    });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test.concurrent.each(CASES)('%s, %s: the client gets a response it can finish reading', async (fault, flow) => {
    const path = `/${fault}/${flow}`;
    if (flow.startsWith('revalidate')) {
      expect((await request(cache.url, path)).body.toString()).toBe('hello');
      await waitFor(async () => (await cache.store.lookup(`${origin.url}${path}`)).length === 1, 'the stored entry');
    }
    const replies =
      flow === 'collapsed'
        ? await Promise.all([send(cache, flow, path), send(cache, flow, path)])
        : [await send(cache, flow, path)];
    for (const reply of replies) expectFinished(reply);
    // Nothing stays in flight: the next request for the URL is not stuck behind this one.
    await waitFor(() => !cache.proxy.inFlight.has(`${origin.url}${path}`), 'the fetch to settle');
  });

  test.each(['get', 'post', 'delete', 'range'] as const)(
    'more bytes than Content-Length (%s): exactly the announced bytes, complete',
    async (flow) => {
      const reply = await send(cache, flow, `/longer-garbage/${flow}-exact`);
      expect(reply.complete).toBe(true);
      if (flow === 'range') {
        expect(reply.status).toBe(206);
        expect(reply.body.toString()).toBe('xxxx');
      } else {
        expect(reply.status).toBe(200);
        expect(reply.body.toString()).toBe('x'.repeat(10));
      }
    },
  );

  test('more bytes than Content-Length: the announced bytes are stored, and that origin connection is never used again', async () => {
    const path = '/longer-garbage/stored';
    await send(cache, 'get', path);
    const first = connections.get(path)?.[0];
    await waitFor(() => first?.destroyed === true, 'the cache to close the connection the surplus came on');
    await waitFor(() => !cache.proxy.inFlight.has(`${origin.url}${path}`), 'the entry to be committed');
    const [stored] = await cache.store.lookup(`${origin.url}${path}`);
    expect(stored?.size).toBe(10);
    expect(stored?.headers['content-length']).toBe('10');
  });

  test('a 101 nobody asked for is a 502 at once, logged as a bad response, and the URL is not wedged', async () => {
    const path = '/101-unasked/wedge';
    for (let i = 0; i < 3; i++) {
      const reply = await send(cache, 'get', path);
      expect(reply.status).toBe(502);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_BAD_RESPONSE');
      // This URL's fetch is over (the concurrent cases above may still hold fetches of their own).
      expect(cache.proxy.inFlight.has(`${origin.url}${path}`)).toBe(false);
    }
    // Each request reached the origin: none joined a fetch that would never end.
    expect(origin.count(path)).toBe(3);
  });

  test('a body delimited by the connection, which is reset: never complete to the client, never stored', async () => {
    const path = '/close-delimited-reset/stored';
    const reply = await send(cache, 'get', path);
    expect(reply.status).toBe(200);
    expect(reply.complete).toBe(false);
    expect(reply.closedByServer).toBe(true);
    await waitFor(() => !cache.proxy.inFlight.has(`${origin.url}${path}`), 'the fetch to settle');
    expect(await cache.store.lookup(`${origin.url}${path}`)).toEqual([]);
    await send(cache, 'get', path);
    expect(origin.count(path)).toBe(2);
  });

  test('an interim response and then nothing: 504 once --origin-timeout has passed since the request', async () => {
    const reply = await send(cache, 'get', '/102-only/timeout');
    expect(reply.status).toBe(504);
    expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TIMEOUT');
  });

  test('an interim response before the final one is skipped (RFC 9110 §15.2)', async () => {
    const reply = await send(cache, 'get', '/102-then-200/final');
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('ok');
  });
});

describe('bytes the origin sends after a response, once the connection sits in the pool', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const faulty = new Set<net.Socket>();
  /** The connection each request arrived on, by path, in order. */
  const connections = new Map<string, net.Socket[]>();

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '*': (socket, head) => {
        const path = head.split(' ')[1] ?? '/';
        connections.set(path, [...(connections.get(path) ?? []), socket]);
        const flow = path.split('/')[2] ?? '';
        if (path.startsWith('/ok/') || (flow.startsWith('revalidate') && !/^if-none-match:/im.test(head))) {
          return void socket.write(
            'HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nETag: "v1"\r\nContent-Length: 5\r\n\r\nhello',
          );
        }
        // As announced, then 30 bytes more a moment later (on a HEAD answer, all 40 are surplus).
        faulty.add(socket);
        socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 10\r\n\r\n${'x'.repeat(10)}`);
        setTimeout(() => !socket.destroyed && socket.write('y'.repeat(30)), 20);
      },
    });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  // One at a time: a connection the surplus has not reached yet may carry the next request, and
  // then those bytes cannot be told from its answer (as for any HTTP/1.1 client); see the README.
  test.each(FLOWS)('%s: the response as announced, and the connection the surplus came on is closed', async (flow) => {
    const path = `/longer-later/${flow}`;
    if (flow.startsWith('revalidate')) expect((await request(cache.url, path)).body.toString()).toBe('hello');
    const replies =
      flow === 'collapsed'
        ? await Promise.all([send(cache, flow, path), send(cache, flow, path)])
        : [await send(cache, flow, path)];
    for (const reply of replies) {
      expectFinished(reply);
      expect(reply.complete).toBe(true);
      if (METHOD[flow] !== 'HEAD') expect(reply.body.toString()).toBe(flow === 'range' ? 'xxxx' : 'x'.repeat(10));
    }
    await waitFor(
      () => [...faulty].every((socket) => socket.destroyed),
      'the cache to close every connection stray bytes came on',
    );
    const reply = await request(cache.url, `/ok/after-${flow}`);
    expect(reply.body.toString()).toBe('hello');
  });
});

describe('what the log says about origin framing faults', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const { logger, lines } = captureLog('info');

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '/longer': (socket) => socket.write(`HTTP/1.1 200 OK\r\n${STALE}Content-Length: 2\r\n\r\nokSURPLUS`),
      '/upgrade': (socket) =>
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n'),
    });
    cache = await startTestCache(
      { origin: origin.url, cacheDir: dir.dir, host: '127.0.0.1', port: 0, originTimeout: ORIGIN_TIMEOUT },
      { logger },
    );
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('bytes after a complete response: one warning naming the URL', async () => {
    expect((await request(cache.url, '/longer')).body.toString()).toBe('ok');
    await waitFor(() => lines.some((line) => line.component === 'origin'), 'the warning');
    const [warning, ...more] = lines.filter((line) => line.component === 'origin');
    expect(more).toEqual([]);
    expect(warning).toMatchObject({ level: 40, url: `${origin.url}/longer` });
    expect(warning?.msg).toMatch(/bytes after the end of the response/);
  });

  test('a 101 nobody asked for: one warning with the catalogue code', async () => {
    expect((await request(cache.url, '/upgrade')).status).toBe(502);
    await waitFor(() => lines.some((line) => line.code === 'CACHE_ERR_ORIGIN_BAD_RESPONSE'), 'the warning');
    const warning = lines.find((line) => line.code === 'CACHE_ERR_ORIGIN_BAD_RESPONSE');
    expect(warning).toMatchObject({ level: 40, status: 502 });
    expect(JSON.stringify(warning)).toMatch(/101 Switching Protocols/);
  });
});

describe('a body cut short, to a client whose response ends with the connection (FINDINGS F9)', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    // The head and a first chunk, then (in a later packet) a chunk size that is not one.
    const broken: RawRoute = (socket) => {
      socket.write(`HTTP/1.1 200 OK\r\n${STALE}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
      setTimeout(() => !socket.destroyed && socket.write('zz\r\n'), 30);
    };
    origin = await startRawOrigin({ '/broken-get': broken, '/broken-post': broken, '/whole': rawWhole });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  /** What an HTTP/1.0 client reads: the bytes, and whether the connection ended cleanly or was reset. */
  function http10(request: string): Promise<{ text: string; end: 'clean' | string }> {
    const url = new URL(cache.url);
    return new Promise((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname, () => socket.write(request));
      let text = '';
      let end = 'clean';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', (error: NodeJS.ErrnoException) => (end = error.code ?? error.message));
      socket.on('close', () => resolve({ text, end }));
    });
  }

  test.each([
    ['a miss', 'GET /broken-get HTTP/1.0\r\n\r\n'],
    ['a pass-through', 'POST /broken-post HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi'],
  ])('%s: the connection is reset, so the client cannot take the body for whole', async (_flow, request) => {
    const reply = await http10(request);
    expect(reply.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.text).not.toMatch(/content-length/i);
    expect(reply.end).toBe('ECONNRESET');
  });

  test('a whole body ends with a clean close', async () => {
    const reply = await http10('GET /whole HTTP/1.0\r\n\r\n');
    expect(reply.text.endsWith('hello')).toBe(true);
    expect(reply.end).toBe('clean');
  });
});

/** A close-delimited body the origin completes (the connection's end is its end). */
function rawWhole(socket: net.Socket): void {
  socket.end(`HTTP/1.1 200 OK\r\n${STALE}Connection: close\r\n\r\nhello`);
}

describe('a client that stops reading a body nothing stores (FINDINGS F16)', () => {
  const SIZE = 4 * 1024 * 1024;
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      // Sent at once and whole: the origin is never silent while the cache reads.
      '/no-store': (socket) =>
        socket.write(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: ${SIZE}\r\n\r\n`),
            Buffer.alloc(SIZE, 'n'),
          ]),
        ),
    });
    cache = await startCache(origin.url, dir.dir, { originTimeout: ORIGIN_TIMEOUT });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('pausing for three origin timeouts is not the origin falling silent: the whole body arrives', async () => {
    const url = new URL(cache.url);
    const socket = net.connect(Number(url.port), url.hostname, () =>
      socket.write('GET /no-store HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\n\r\n'),
    );
    socket.on('error', () => {});
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    // The client reads the first bytes, then nothing for three origin timeouts (a paused download).
    await new Promise((resolve) => socket.once('data', resolve));
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 3 * ORIGIN_TIMEOUT));
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    // The head and the whole body (the connection closes after it: Connection: close).
    expect(received).toBeGreaterThan(SIZE);
  });
});
