import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { request, waitFor } from './helpers/http.js';
import {
  connectionCount,
  pumpChunks,
  rawExchange,
  readRawBody,
  sha1OfChunks,
  stalledReader,
  streamGet,
} from './helpers/raw.js';
import { startTestOrigin, fixed, type TestOrigin } from './helpers/test-origin.js';
import { chunkAt } from './helpers/raw.js';
import { startCache, startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
/** Far more than loopback socket buffers hold, so a reader that never reads really stalls. */
const BIG = 24 * MiB;

/** `promise`, or a rejection naming `what` after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

describe('one slow client never holds up the origin fetch, the store or other clients', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  /** The same origin behind a cache that closes idle connections after one second. */
  let impatient: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let impatientDir: Awaited<ReturnType<typeof tempDir>>;
  const bigSha1 = sha1OfChunks(BIG / CHUNK, CHUNK);
  let release: () => void = () => {};
  let finishPaused: () => void = () => {};
  let finishDeleted: () => void = () => {};
  const log = captureLog('warn');
  const stalled: net.Socket[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      // Held until both clients are in, so both are attached to the same fetch from the first byte.
      '/big': (_req, res) => {
        release = () => {
          res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG });
          pumpChunks(res, BIG / CHUNK, CHUNK);
        };
      },
      '/big-idle': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG });
        pumpChunks(res, BIG / CHUNK, CHUNK);
      },
      // Half the body at once, the rest only when the test says: the fetch outlasts --idle-timeout.
      '/big-paused': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG });
        for (let i = 0; i < BIG / CHUNK / 2; i++) res.write(chunkAt(i, CHUNK));
        finishPaused = () => {
          for (let i = BIG / CHUNK / 2; i < BIG / CHUNK; i++) res.write(chunkAt(i, CHUNK));
          res.end();
        };
      },
      // As /big-paused; a DELETE of it succeeds (and so invalidates what the cache holds for it).
      '/big-deleted': (req, res) => {
        if (req.method === 'DELETE') return void res.writeHead(204).end();
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': BIG });
        for (let i = 0; i < BIG / CHUNK / 2; i++) res.write(chunkAt(i, CHUNK));
        finishDeleted = () => {
          for (let i = BIG / CHUNK / 2; i < BIG / CHUNK; i++) res.write(chunkAt(i, CHUNK));
          res.end();
        };
      },
      '/small': fixed('small', { 'cache-control': 'max-age=60' }),
    });
    cache = await startTestCache({ origin: origin.url, cacheDir: dir.dir, maxSize: 4 * BIG }, { logger: log.logger });
    impatientDir = await tempDir();
    impatient = await startCache(origin.url, impatientDir.dir, { maxSize: 4 * BIG, idleTimeout: 1_000 });
  });
  afterAll(async () => {
    for (const socket of stalled) socket.destroy();
    await cache?.close();
    await impatient?.close();
    await origin?.close();
    await dir?.cleanup();
    await impatientDir?.cleanup();
  });

  test('a collapsed client that never reads: the other gets the whole body, the entry is stored, then the slow one catches up from the store', async () => {
    const slow = await stalledReader(cache.url, '/big');
    stalled.push(slow);
    await waitFor(() => origin.count('/big') === 1, 'the origin fetch');
    const fast = streamGet(cache.url, '/big');
    await waitFor(async () => (await connectionCount(cache.app.server)) === 2, 'the second client to connect');
    release();

    // Were the fetch paced by the reader that never reads, this would never resolve.
    const got = await within(fast, 10_000, 'the fast client stuck behind the one that never reads');
    expect(got.bytes).toBe(BIG);
    expect(got.sha1).toBe(bigSha1);
    await waitFor(async () => (await cache.store.lookup(`${origin.url}/big`)).length === 1, 'the entry to be stored');
    expect(origin.count('/big')).toBe(1);

    // The slow reader was handed over to the store at its own offset: byte for byte the same body.
    const late = await readRawBody(slow);
    expect(late).toEqual({ sha1: bigSha1, bytes: BIG, complete: true });
  }, 30_000);

  test('other keys are served while a reader is stalled', async () => {
    const slow = await stalledReader(cache.url, '/big');
    stalled.push(slow);
    const reply = await request(cache.url, '/small');
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('small');
    slow.destroy();
  });

  test('a detached client waiting for the entry to be committed is not cut by --idle-timeout', async () => {
    const path = '/big-paused';
    const slow = await stalledReader(impatient.url, path);
    stalled.push(slow);
    await waitFor(() => impatient.proxy.inFlight.has(`${origin.url}${path}`), 'the fetch');
    const fetch = impatient.proxy.inFlight.get(`${origin.url}${path}`);
    const outcome = await fetch?.outcome;
    const fanOut = outcome?.kind === 'response' ? outcome.fanOut : undefined;
    await waitFor(() => (fanOut?.detached ?? 0) === 1, 'the stalled reader to be detached');
    // It reads what it had, then waits on the cache for longer than --idle-timeout (1 s).
    const body = readRawBody(slow);
    const waitStarted = Date.now();
    await waitFor(() => Date.now() - waitStarted > 1_500, 'a wait longer than --idle-timeout', 5_000);
    finishPaused();
    expect(await body).toEqual({ sha1: bigSha1, bytes: BIG, complete: true });
  }, 20_000);

  test('a detached client whose entry is never committed (a DELETE invalidated the fetch) is cut short loudly (FINDINGS F13)', async () => {
    const path = '/big-deleted';
    const slow = await stalledReader(cache.url, path);
    stalled.push(slow);
    await waitFor(() => cache.proxy.inFlight.has(`${origin.url}${path}`), 'the fetch');
    const outcome = await cache.proxy.inFlight.get(`${origin.url}${path}`)?.outcome;
    const fanOut = outcome?.kind === 'response' ? outcome.fanOut : undefined;
    await waitFor(() => (fanOut?.detached ?? 0) === 1, 'the stalled reader to be detached');
    // RFC 9111 §4.4: the DELETE's success invalidates the URL, and with it what this fetch stores.
    expect((await request(cache.url, path, { method: 'DELETE' })).status).toBe(204);
    const body = readRawBody(slow);
    finishDeleted();
    const got = await within(body, 10_000, 'the detached client to be closed');
    expect(got.complete).toBe(false);
    expect(got.bytes).toBeLessThan(BIG);
    const gone = () => log.lines.find((line) => String(line.msg).includes('could not continue from the store'));
    await waitFor(() => gone() !== undefined, 'the error line');
    const line = gone()!;
    expect(line).toMatchObject({ level: 50, key: `${origin.url}${path}`, code: 'CACHE_ERR_ENTRY_GONE' });
    expect(line.offset).toEqual(expect.any(Number));
    expect(await cache.store.lookup(`${origin.url}${path}`)).toEqual([]);
  }, 30_000);

  test('a reader that never reads is disconnected after --idle-timeout, and the entry is stored anyway', async () => {
    const slow = await stalledReader(impatient.url, '/big-idle');
    stalled.push(slow);
    await waitFor(async () => (await impatient.store.lookup(`${origin.url}/big-idle`)).length === 1, 'the entry');
    const started = Date.now();
    await waitFor(async () => (await connectionCount(impatient.app.server)) === 0, 'the idle connection to close');
    expect(Date.now() - started).toBeLessThan(5_000);
    const rest = await readRawBody(slow);
    expect(rest.complete).toBe(false);
  }, 20_000);
});

describe('slowloris: a request that never finishes arriving is bounded by timeouts', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({ '*': fixed('ok', { 'cache-control': 'no-store' }) });
    cache = await startCache(origin.url, dir.dir, { headersTimeout: 500, requestTimeout: 1_000 });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  /** Sends `head` then one more byte every 50 ms, forever: the connection never goes idle. */
  function drip(head: string, drop: string): Promise<{ status: string; ms: number }> {
    const url = new URL(cache.url);
    return new Promise((resolve) => {
      const started = Date.now();
      let text = '';
      let timer: NodeJS.Timeout | undefined;
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(head);
        timer = setInterval(() => socket.write(drop), 50);
      });
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ status: text.split('\r\n')[0] ?? '', ms: Date.now() - started });
      });
    });
  }

  test('headers sent one byte at a time → 408 after --headers-timeout, others served meanwhile', async () => {
    const slow = drip('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'a');
    expect((await request(cache.url, '/other')).status).toBe(200);
    const result = await slow;
    expect(result.status).toBe('HTTP/1.1 408 Request Timeout');
    expect(result.ms).toBeGreaterThanOrEqual(450);
    expect(result.ms).toBeLessThan(5_000);
  });

  test('a body sent one byte at a time → closed after --request-timeout', async () => {
    const result = await drip('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n', 'b');
    expect(result.ms).toBeGreaterThanOrEqual(950);
    expect(result.ms).toBeLessThan(5_000);
    expect(origin.requests.filter((r) => r.url === '/upload')).toEqual([]);
  });

  test('a complete request is not affected by the timeouts', async () => {
    const { statuses } = await rawExchange(cache.url, 'GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statuses).toEqual([200]);
  });
});
