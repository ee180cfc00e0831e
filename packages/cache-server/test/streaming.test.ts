import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { listFiles, startCache, tempDir, type StartedCache } from './helpers/cache.js';

const MiB = 1024 * 1024;

/** Deterministic bytes, so a large body never has to be held to be compared. */
function chunkAt(index: number, size: number): Buffer {
  const chunk = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) chunk.writeUInt32LE((index * 2654435761 + i) >>> 0, i);
  return chunk;
}

/** GETs `path`, hashing the body as it arrives; reports when the first byte came. */
function streamGet(
  base: string,
  path: string,
  onFirstByte?: () => void,
): Promise<{ headers: http.IncomingHttpHeaders; sha1: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${path}`, { agent: false }, (res) => {
        const hash = createHash('sha1');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (bytes === 0) onFirstByte?.();
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ headers: res.headers, sha1: hash.digest('hex'), bytes }));
        res.on('aborted', () => reject(new Error('aborted')));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('a miss streams to the client while it is stored', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let finishSlow: () => void = () => {};
  let releaseHeadFirst: () => void = () => {};
  const LARGE = 256 * MiB;
  const CHUNK = 256 * 1024;
  let largeSha1 = '';

  beforeAll(async () => {
    dir = await tempDir();
    const hash = createHash('sha1');
    for (let i = 0; i < LARGE / CHUNK; i++) hash.update(chunkAt(i, CHUNK));
    largeSha1 = hash.digest('hex');
    origin = await startTestOrigin({
      '/slow-start': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 10 });
        res.write('first');
        finishSlow = () => res.end('-last');
      },
      '/head-first': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 4 });
        res.flushHeaders();
        releaseHeadFirst = () => res.end('body');
      },
      '/large': (_req, res) => {
        res.writeHead(200, {
          'cache-control': 'max-age=60',
          'content-length': LARGE,
          'content-type': 'application/octet-stream',
        });
        let i = 0;
        const pump = () => {
          while (i < LARGE / CHUNK) {
            if (!res.write(chunkAt(i++, CHUNK))) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      },
      '/truncated': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 10_000 });
        res.write(Buffer.alloc(5000, 'a'));
        setImmediate(() => res.socket?.destroy());
      },
      '/truncated-chunked': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.write(Buffer.alloc(5000, 'b'));
        setImmediate(() => res.socket?.destroy());
      },
    });
    cache = await startCache(origin.url, dir.dir, { maxSize: 2 * LARGE });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('the response head reaches the client before the origin has sent any body byte', async () => {
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get(`${cache.url}/head-first`, { agent: false }, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-cache']).toBe('MISS');
    releaseHeadFirst();
    let text = '';
    for await (const chunk of response) text += String(chunk);
    expect(text).toBe('body');
  });

  test('the client gets the first bytes before the origin has finished', async () => {
    let sawFirstByte = false;
    const reply = streamGet(cache.url, '/slow-start', () => (sawFirstByte = true));
    await waitFor(() => sawFirstByte, 'first byte through the cache');
    finishSlow();
    const done = await reply;
    expect(done.bytes).toBe(10);
  });

  test('256 MiB pass with flat memory, arrive intact, and are then a hit with the same bytes', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const miss = await streamGet(cache.url, '/large');
      expect(miss.headers['x-cache']).toBe('MISS');
      expect(miss.bytes).toBe(LARGE);
      expect(miss.sha1).toBe(largeSha1);
    } finally {
      clearInterval(sampler);
    }
    // Buffering the body would cost 256 MiB; streaming costs a few chunks per hop.
    expect(peak - before).toBeLessThan(96 * MiB);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'commit');
    const hit = await streamGet(cache.url, '/large');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.sha1).toBe(largeSha1);
    expect(origin.count('/large')).toBe(1);
  }, 120_000);

  test.each(['/truncated', '/truncated-chunked'])(
    '%s: an origin body cut short is never stored nor served from cache',
    async (path) => {
      await expect(request(cache.url, path)).rejects.toThrow();
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the failed fetch to settle');
      expect(await cache.store.lookup(`${origin.url}${path}`)).toEqual([]);
      expect((await listFiles(dir.dir)).filter((f) => f.includes('/v1/tmp/'))).toEqual([]);
      await expect(request(cache.url, path)).rejects.toThrow();
      expect(origin.count(path)).toBe(2);
    },
  );
});
