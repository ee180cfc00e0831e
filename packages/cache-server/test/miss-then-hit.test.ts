import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureBigFile, startOrigin } from 'main-server';
import { request, waitFor } from './helpers/http.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

type Origin = Awaited<ReturnType<typeof startOrigin>>;

/** The seed's story against the real origin: first request goes through, later ones are hits. */
describe('miss then hit through the real origin', () => {
  let origin: Origin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;

  beforeAll(async () => {
    dir = await tempDir();
    root = path.resolve(import.meta.dirname, '../../main-server/public');
    await ensureBigFile(root);
    origin = await startOrigin({ port: 0, root, logLevel: 'silent' });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  async function originCount(p: string): Promise<number> {
    const stats = JSON.parse((await request(origin.url, '/_origin/stats')).body.toString()) as {
      byPath: Record<string, number>;
    };
    return stats.byPath[p] ?? 0;
  }

  test.each([
    ['/style.css', 'text'],
    ['/big.bin', 'binary (4 MiB)'],
  ])('%s (%s): MISS then HIT with identical bytes; the origin hears once', async (p) => {
    const onDisk = await readFile(path.join(root, p));
    const first = await request(cache.url, p);
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['cache-status']).toMatch(/simple-cache; fwd=uri-miss; fwd-status=200; stored/);
    expect(first.body.equals(onDisk)).toBe(true);

    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be committed');
    const second = await request(cache.url, p);
    expect(second.status).toBe(200);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['cache-status']).toMatch(/^simple-cache; hit; ttl=\d+/);
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(second.headers['content-length']).toBe(String(onDisk.length));
    expect(second.body.equals(onDisk)).toBe(true);
    expect(await originCount(p)).toBe(1);
  });

  test('/ serves the index page, then from the cache', async () => {
    const first = await request(cache.url, '/');
    expect(first.status).toBe(200);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be committed');
    expect(first.headers['content-type']).toMatch(/text\/html/);
    const second = await request(cache.url, '/');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body.equals(first.body)).toBe(true);
  });

  test('HEAD on a miss stores the GET body; HEAD and GET then hit with the same headers', async () => {
    const head = await request(cache.url, '/about.html', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['x-cache']).toBe('MISS');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be committed');
    const headHit = await request(cache.url, '/about.html', { method: 'HEAD' });
    expect(headHit.headers['x-cache']).toBe('HIT');
    expect(headHit.body.length).toBe(0);
    const get = await request(cache.url, '/about.html');
    expect(get.headers['x-cache']).toBe('HIT');
    expect(get.headers['content-length']).toBe(headHit.headers['content-length']);
    expect(get.body.equals(await readFile(path.join(root, 'about.html')))).toBe(true);
    expect(await originCount('/about.html')).toBe(1);
  });

  test('a missing file is a 404 from the origin, with its HTML page', async () => {
    const missing = await request(cache.url, '/no-such-page.html');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/text\/html/);
  });
});
