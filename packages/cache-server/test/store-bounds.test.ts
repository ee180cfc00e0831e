/**
 * Issue 12.9 and 12.10 through the real server: tiny entries count what they take on disk
 * (--max-size), the number of entries is bounded (--max-entries), and so is the number of
 * variants of one URL (--max-variants, least recently used out first).
 */
import { describe, expect, test } from '@jest/globals';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { useOriginAndCaches } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';

const KiB = 1024;

/** Keep-alive GETs, many at a time, as a browser or a crawler sends them. */
function createClient(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const url = new URL(base);
  const get = (target: string, headers: http.OutgoingHttpHeaders = {}) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: url.hostname, port: url.port, path: target, headers, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.headers['x-cache'])));
        })
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

/** What the regular files below `dir` take on disk (st_blocks, as du counts them). */
async function fileBytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const item of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (item.isFile()) total += (await stat(path.join(item.parentPath, item.name))).blocks * 512;
  }
  return total;
}

describe('bounded entries through the server', () => {
  const servers = useOriginAndCaches({
    '/tiny': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 1 });
      res.end('x');
    },
    '/vary': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'x-v', 'content-length': 1 });
      res.end(String(req.headers['x-v']).slice(-1));
    },
  });
  /** Every commit has run: each URL (or variant) sent was stored once, and is there or evicted. */
  const settled = (cache: (typeof servers.caches)[number], commits: number) =>
    waitFor(() => {
      const { entries, evictions } = cache.store.stats();
      return entries + evictions === commits;
    }, `${commits} commits`);

  test('--max-size 64KiB: 300 one-byte URLs keep at most 64 KiB of files (they took 8 KiB each: 2.3 MiB)', async () => {
    const cache = await servers.start({ maxSize: 64 * KiB });
    const client = createClient(cache.url);
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => client.get(`/tiny?${i}`)));
      await settled(cache, 300);
      const stats = cache.store.stats();
      expect(stats.entries).toBeLessThanOrEqual(8);
      expect(stats.size).toBeLessThanOrEqual(64 * KiB);
      expect(stats.evictions).toBeGreaterThanOrEqual(300 - 8);
      expect(await fileBytesOnDisk(cache.config.cacheDir)).toBeLessThanOrEqual(64 * KiB);
      // Still a cache.
      expect(await client.get('/tiny?last')).toBe('MISS');
      await settled(cache, 301);
      expect(await client.get('/tiny?last')).toBe('HIT');
    } finally {
      client.close();
    }
  });

  test('--max-entries 20: 200 URLs leave 20 entries, the latest ones', async () => {
    const cache = await servers.start({ maxEntries: 20 });
    const client = createClient(cache.url);
    try {
      for (let batch = 0; batch < 200; batch += 20) {
        await Promise.all(Array.from({ length: 20 }, (_, i) => client.get(`/tiny?${batch + i}`)));
        await settled(cache, batch + 20);
      }
      expect(cache.store.stats()).toMatchObject({ entries: 20, evictions: 180 });
      expect(await client.get('/tiny?199')).toBe('HIT');
      expect(await client.get('/tiny?0')).toBe('MISS');
    } finally {
      client.close();
    }
  });

  test('--max-variants 8: 300 variants of one URL leave 8, the latest ones', async () => {
    const cache = await servers.start({ maxVariants: 8 });
    const client = createClient(cache.url);
    const key = `${servers.origin.url}/vary`;
    try {
      for (let batch = 0; batch < 300; batch += 30) {
        await Promise.all(Array.from({ length: 30 }, (_, i) => client.get('/vary', { 'x-v': `v${batch + i}` })));
        await settled(cache, batch + 30);
        // Never more than 8 at any moment a lookup can see.
        expect(await cache.store.lookup(key)).toHaveLength(8);
      }
      const variants = await cache.store.lookup(key);
      expect(variants).toHaveLength(8);
      // All from the last burst (within one, commits finish in any order).
      const kept = variants.map((entry) => Number(entry.varyValues['x-v']?.slice(1)));
      for (const n of kept) expect(n).toBeGreaterThanOrEqual(270);
      expect(cache.store.stats()).toMatchObject({ entries: 8, evictions: 292 });
      const files = await readdir(path.join(cache.config.cacheDir, 'v2', 'meta'), { recursive: true });
      expect(files.filter((name) => name.endsWith('.json'))).toHaveLength(8);
      expect(await client.get('/vary', { 'x-v': `v${kept[0]}` })).toBe('HIT');
      expect(await client.get('/vary', { 'x-v': 'v0' })).toBe('MISS');
    } finally {
      client.close();
    }
  });

  test('--max-entries and --max-variants: flags, environment, defaults', () => {
    const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => loadConfig(argv, env).config;
    expect(load([])).toMatchObject({ maxEntries: 100_000, maxVariants: 64 });
    expect(load(['--max-entries', '5000', '--max-variants', '16'])).toMatchObject({
      maxEntries: 5000,
      maxVariants: 16,
    });
    expect(load([], { CACHE_MAX_ENTRIES: '7', CACHE_MAX_VARIANTS: '3' })).toMatchObject({
      maxEntries: 7,
      maxVariants: 3,
    });
    expect(() => load(['--max-entries', '0'])).toThrow(/--max-entries/);
    expect(() => load(['--max-variants', 'many'])).toThrow(/--max-variants/);
  });
});
