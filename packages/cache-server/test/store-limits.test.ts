import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { DiskStore } from '../src/store/disk-store.js';
import { MemoryTier } from '../src/store/memory-tier.js';
import { createTestFs } from './store/test-fs.js';
import { startCache, type StartedCache, startTestCache, tempDir } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

const MiB = 1024 * 1024;
const LARGE = randomBytes(3 * MiB);
const SMALL = randomBytes(20 * 1024);

describe('store limits and the memory tier, through the proxy', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: StartedCache;

  beforeAll(async () => {
    origin = await startTestOrigin({
      // No Content-Length: the cache finds out the size only as the bytes flow.
      '/chunked': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        for (let offset = 0; offset < LARGE.length; offset += 64 * 1024)
          res.write(LARGE.subarray(offset, offset + 64 * 1024));
        res.end();
      },
      '/announced': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': LARGE.length });
        res.end(LARGE);
      },
    });
    dir = await tempDir();
    cache = await startCache(origin.url, dir.dir, { maxObjectSize: MiB });
  });
  afterAll(async () => {
    await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  async function get(urlPath: string) {
    const reply = await request(cache.url, urlPath);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the store write to finish');
    return reply;
  }

  test.each(['/chunked', '/announced'])(
    '%s: a body over --max-object-size reaches the client whole and is never stored',
    async (urlPath) => {
      for (let i = 1; i <= 2; i++) {
        const reply = await get(urlPath);
        expect(reply.status).toBe(200);
        expect(reply.headers['x-cache']).toBe('MISS');
        expect(reply.body.equals(LARGE)).toBe(true);
        expect(origin.count(urlPath)).toBe(i);
      }
      expect(await cache.store.lookup(`${origin.url}${urlPath}`)).toEqual([]);
      expect(await readdir(path.join(dir.dir, 'v2', 'tmp'))).toEqual([]);
    },
  );

  test('the server runs the memory tier in front of the disk store by default', () => {
    expect(cache.store).toBeInstanceOf(MemoryTier);
  });
});

describe('a hot small object through the proxy', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const testFs = createTestFs();

  beforeAll(async () => {
    origin = await startTestOrigin({
      '/small': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': SMALL.length });
        res.end(SMALL);
      },
    });
    dir = await tempDir();
  });
  afterAll(async () => {
    await origin.close();
    await dir.cleanup();
  });

  test.each([
    ['with the memory tier: hits make no file-system call', {}, 0],
    ['--memory-size 0: hits read the disk', { memorySize: 0 }, 1],
  ])('%s', async (_label, extra, opens) => {
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: path.join(dir.dir, String(opens)), ...extra },
      { logger: pino({ level: 'silent' }), store: { fs: testFs.fs } },
    );
    try {
      expect(cache.store instanceof DiskStore).toBe(opens === 1);
      const first = await request(cache.url, '/small');
      expect(first.headers['x-cache']).toBe('MISS');
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the store write to finish');
      testFs.resetCounts();
      for (let i = 0; i < 5; i++) {
        const hit = await request(cache.url, '/small');
        expect(hit.headers['x-cache']).toBe('HIT');
        expect(hit.body.equals(SMALL)).toBe(true);
      }
      expect(testFs.counts().open ?? 0).toBe(5 * opens);
      if (opens === 0) expect(testFs.total()).toBe(0);
    } finally {
      await cache.close();
    }
  });
});
