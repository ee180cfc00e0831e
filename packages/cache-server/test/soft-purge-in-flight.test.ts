import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { useTwoWorkers } from './helpers/workers.js';

/**
 * A soft purge marks what is stored stale (docs/operating.md): the next request revalidates. A
 * fetch in flight when it comes brings what the origin had before the purge, so what it stores
 * must be stale too. Before, it was stored fresh: a soft purge sent just after a miss (its
 * response complete, its entry not yet committed, or its br/gzip copies not yet made) answered
 * `{"purged":0}` or counted only some copies, and the next requests were `HIT`s of the content
 * the purge was sent to refresh, for the entry's whole lifetime.
 *
 * The origin answers the n-th request for a path with `v<n>` and holds the first one (and, under
 * /reval/, the first revalidation) until the test releases it: the head is sent, the body waits.
 */
interface Held {
  res: http.ServerResponse;
  body: string;
}

const LONG = 'x'.repeat(4096);

function holdingOrigin(held: Map<string, Held>, seen: Map<string, number>): http.RequestListener {
  return (req, res) => {
    const path = req.url ?? '/';
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    // Compressible paths are stored with br and gzip copies beside the identity body.
    const text = path.includes('/text/');
    const body = text ? `v${n} ${LONG}` : `v${n}`;
    if (path.includes('/reval/')) {
      // Stored stale at once (max-age=0); a 304 makes it fresh for 10 minutes.
      if (req.headers['if-none-match'] === '"r"') {
        res.writeHead(304, { etag: '"r"', 'cache-control': 'max-age=600' });
        if (n === 2) return void held.set(path, { res, body: '' });
        return void res.end();
      }
      return void res.writeHead(200, { etag: '"r"', 'cache-control': 'max-age=0', 'content-length': 2 }).end(`v${n}`);
    }
    res.writeHead(200, {
      'cache-control': 'max-age=600',
      'content-type': text ? 'text/plain' : 'application/octet-stream',
      'content-length': Buffer.byteLength(body),
    });
    if (n > 1) return void res.end(body);
    res.flushHeaders();
    held.set(path, { res, body });
  };
}

describe('a soft purge while a fetch is in flight: what the fetch stores is stale', () => {
  const held = new Map<string, Held>();
  const seen = new Map<string, number>();
  const env = useOriginAndCache({ '*': holdingOrigin(held, seen) });

  const release = (path: string) => {
    const waiting = held.get(path);
    held.delete(path);
    waiting?.res.end(waiting.body);
  };
  const settled = () => waitFor(() => env.cache.proxy.inFlight.size === 0, 'the fetches in flight to settle');

  /** A client's miss is on its way (head out, body held) when the soft purge comes. */
  async function softPurgeMidBody(path: string, purge: () => Promise<{ status: number }>) {
    const first = request(env.cache.url, path, { headers: { 'accept-encoding': 'identity' } });
    await waitFor(() => held.has(path), `the origin to hold ${path}`);
    expect((await purge()).status).toBe(200);
    release(path);
    expect((await first).body.toString()).toMatch(/^v1/);
    await settled();
  }

  test.each<[string, string, (path: string) => string, Record<string, string>]>([
    ['PURGE with Soft-Purge: 1', 'PURGE', (path) => path, { 'soft-purge': '1' }],
    ['DELETE ?url=…&soft=1', 'DELETE', (path) => `${PREFIX}/entries?url=${path}&soft=1`, {}],
    ['DELETE ?prefix=…&soft=1', 'DELETE', (path) => `${PREFIX}/entries?prefix=${path}&soft=1`, {}],
    ['DELETE ?all=1&soft=1', 'DELETE', () => `${PREFIX}/entries?all=1&soft=1`, {}],
  ])('%s: the next request revalidates, it is no HIT', async (label, method, target, headers) => {
    const path = `/plain/${label.replace(/\W+/g, '-')}`;
    await softPurgeMidBody(path, () => admin(env.cache.url, target(path), { method, headers }));
    const next = await request(env.cache.url, path);
    expect(next.headers['x-cache']).not.toBe('HIT');
    expect(next.body.toString()).toBe('v2');
    expect(seen.get(path)).toBe(2);
  });

  test('every copy of a compressed response (identity, br, gzip) is stored stale', async () => {
    const path = '/text/page';
    await softPurgeMidBody(path, () => admin(env.cache.url, path, { method: 'PURGE', headers: { 'soft-purge': '1' } }));
    // The copies are committed beside the identity body, each marked stale as it is.
    const variants = async () => {
      const listed = await admin(env.cache.url, `${PREFIX}/entries?prefix=${path}`);
      return (listed.json as { items: { variant: string; ttl: number }[] }).items;
    };
    await waitFor(async () => (await variants()).length === 3, 'the identity body and its br and gzip copies');
    await waitFor(async () => (await variants()).every((item) => item.ttl <= 0), 'every variant stale', 2_000);
    // None is served without asking the origin.
    for (const coding of ['br', 'gzip', 'identity']) {
      const cached = await request(env.cache.url, path, {
        headers: { 'accept-encoding': coding, 'cache-control': 'only-if-cached' },
      });
      expect([coding, cached.status]).toEqual([coding, 504]);
    }
  });

  test('a 304 that answers a revalidation sent before the soft purge leaves the entry stale', async () => {
    const path = '/reval/x';
    expect((await request(env.cache.url, path)).headers['x-cache']).toBe('MISS');
    const revalidating = request(env.cache.url, path);
    await waitFor(() => held.has(path), 'the origin to hold the revalidation');
    expect((await admin(env.cache.url, path, { method: 'PURGE', headers: { 'soft-purge': '1' } })).status).toBe(200);
    release(path);
    expect((await revalidating).headers['x-cache']).toBe('REVALIDATED');
    await settled();
    const next = await request(env.cache.url, path);
    expect(next.headers['x-cache']).toBe('REVALIDATED');
    expect(seen.get(path)).toBe(3);
    // That one was after the purge: its 304 makes the entry fresh again.
    expect((await request(env.cache.url, path)).headers['x-cache']).toBe('HIT');
  });
});

describe('--workers 2: a soft purge through one worker while the other fetches', () => {
  const held = new Map<string, Held>();
  const seen = new Map<string, number>();
  const workers = useTwoWorkers({ '*': holdingOrigin(held, seen) });

  test('what the other worker stores is stale: the next request revalidates', async () => {
    const path = '/plain/workers';
    const first = workers.one.get(path);
    await waitFor(() => held.has(path), 'the origin to hold the body');
    const purged = await workers.two.get(`${PREFIX}/entries?url=${path}&soft=1`, {}, 'DELETE');
    expect(purged.status).toBe(200);
    const waiting = held.get(path);
    waiting?.res.end(waiting.body);
    expect((await first).body.toString()).toBe('v1');
    await waitFor(async () => {
      const stats = JSON.parse((await workers.two.get(`${PREFIX}/stats`)).body.toString()) as {
        origin: { inFlight: number };
        store: { entries: number };
      };
      return stats.origin.inFlight === 0 && stats.store.entries >= 1;
    }, 'the fetch to be stored');
    const next = await workers.two.get(path);
    expect(next.headers['x-cache']).not.toBe('HIT');
    expect(next.body.toString()).toBe('v2');
  });
});
