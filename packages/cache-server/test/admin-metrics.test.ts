import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { admin, metricValue, PREFIX } from './helpers/admin.js';
import pino from 'pino';
import { type StartedCache, startTestCache, tempDir } from './helpers/cache.js';
import { request, waitFor, type Reply } from './helpers/http.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

const FROM_CACHE = new Set(['HIT', 'UPDATING', 'STALE', 'REVALIDATED']);

describe('<prefix>/metrics after a known sequence of requests', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let release: () => void = () => {};
  const replies: Reply[] = [];
  let text = '';

  const connections = () =>
    new Promise<number>((resolve) => cache.app.server.getConnections((_error, count) => resolve(count)));

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '/a': fixed('a'.repeat(1000), { 'cache-control': 'max-age=600' }),
      '/nostore': fixed('n'.repeat(300), { 'cache-control': 'no-store' }),
      '/post': fixed('posted', {}),
      '/big': fixed('b'.repeat(3000), { 'cache-control': 'max-age=600' }),
      '/down': (_req, res) => res.destroy(),
      '/slow': (_req, res) => {
        release = () => {
          res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 1000 });
          res.end('s'.repeat(1000));
        };
      },
    });
    // Room for /a and /slow, not for /big as well: storing /big must evict. In 4 KiB blocks, each
    // takes one for its body and one for its meta file: 8 KiB.
    cache = await startTestCache(
      { origin: origin.url, cacheDir: dir.dir, maxSize: 20 * 1024 },
      { logger: pino({ level: 'silent' }), store: { blockSize: 4096 } },
    );

    const send = async (path: string, options: Parameters<typeof request>[2] = {}) => {
      const reply = await request(cache.url, path, options);
      replies.push(reply);
      return reply;
    };
    await send('/a');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the commit of /a');
    await send('/a');
    await send('/a');
    await send('/nostore');
    await send('/post', { method: 'POST', body: 'x' });
    await send('/down');
    // Five clients for one uncached URL while the origin holds its answer: one fetch, shared.
    const slow = Array.from({ length: 5 }, () => send('/slow'));
    await waitFor(() => origin.count('/slow') === 1, 'the origin fetch of /slow');
    await waitFor(async () => (await connections()) === 5, 'all five clients to connect');
    release();
    await Promise.all(slow);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the commit of /slow');
    await send('/big');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the commit of /big');

    // The observer runs when each response closes: wait until it has seen every one.
    await waitFor(async () => {
      text = (await admin(cache.url, `${PREFIX}/metrics`)).body.toString();
      const statuses = ['hit', 'miss', 'bypass', 'expired', 'revalidated', 'stale', 'updating', 'none'];
      const seen = statuses.reduce(
        (sum, status) => sum + (metricValue(text, 'simple_cache_requests_total', { cache_status: status }) ?? 0),
        0,
      );
      return seen === replies.length;
    }, 'the metrics to count every request');
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  const count = (predicate: (reply: Reply) => boolean) => replies.filter(predicate).length;
  const xCache = (reply: Reply) => String(reply.headers['x-cache']);

  test('is Prometheus text, served no-store', async () => {
    const reply = await admin(cache.url, `${PREFIX}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(text).toContain('# TYPE simple_cache_requests_total counter');
    expect(text).toContain('# TYPE simple_cache_origin_response_seconds histogram');
    // The process's own metrics come along.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  test('requests by cache status', () => {
    expect(count((r) => xCache(r) === 'HIT')).toBeGreaterThanOrEqual(2);
    for (const status of ['HIT', 'MISS', 'BYPASS']) {
      const label = { cache_status: status.toLowerCase() };
      expect({ status, value: metricValue(text, 'simple_cache_requests_total', label) }).toEqual({
        status,
        value: count((r) => xCache(r) === status),
      });
      expect(metricValue(text, 'simple_cache_request_duration_seconds_count', label)).toBe(
        count((r) => xCache(r) === status),
      );
    }
  });

  test('bytes served from the cache and from the origin', () => {
    const bytes = (fromCache: boolean) =>
      replies
        .filter((r) => r.headers['x-cache-error'] === undefined && FROM_CACHE.has(xCache(r)) === fromCache)
        .reduce((sum, r) => sum + r.body.length, 0);
    // Two hits on /a at least, and whatever /slow clients were served from the store.
    expect(bytes(true)).toBeGreaterThanOrEqual(2000);
    expect(metricValue(text, 'simple_cache_response_bytes_total', { source: 'cache' })).toBe(bytes(true));
    expect(metricValue(text, 'simple_cache_response_bytes_total', { source: 'origin' })).toBe(bytes(false));
  });

  test('collapsed requests', () => {
    const collapsed = count((r) => /;\s*collapsed/.test(String(r.headers['cache-status'])));
    expect(collapsed).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'simple_cache_collapsed_requests_total')).toBe(collapsed);
    expect(origin.count('/slow')).toBe(1);
  });

  test('errors by kind: what the client got, and what the origin did', () => {
    const failed = replies.find((r) => r.headers['x-cache-error'] !== undefined);
    const code = String(failed?.headers['x-cache-error']);
    expect(failed?.status).toBe(502);
    expect(code).toMatch(/^CACHE_ERR_ORIGIN_/);
    expect(metricValue(text, 'simple_cache_errors_total', { code })).toBe(1);
    expect(metricValue(text, 'simple_cache_origin_errors_total', { code })).toBe(1);
    expect(metricValue(text, 'simple_cache_client_aborts_total')).toBe(0);
  });

  test('origin latency histogram and origin requests by status class', () => {
    // Every request the origin answered: /a, /nostore, /post, /slow, /big; /down never answered.
    const answered = origin.count() - origin.count('/down');
    expect(answered).toBe(5);
    expect(metricValue(text, 'simple_cache_origin_response_seconds_count')).toBe(answered);
    expect(metricValue(text, 'simple_cache_origin_response_seconds_bucket', { le: '+Inf' })).toBe(answered);
    expect(metricValue(text, 'simple_cache_origin_response_seconds_sum')).toBeGreaterThan(0);
    expect(metricValue(text, 'simple_cache_origin_requests_total', { status_class: '2xx' })).toBe(answered);
    expect(metricValue(text, 'simple_cache_origin_requests_total', { status_class: 'error' })).toBe(1);
    expect(metricValue(text, 'simple_cache_origin_fetches_in_flight')).toBe(0);
  });

  test('store size, entries and evictions', () => {
    const stats = cache.store.stats();
    expect(stats.evictions).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'simple_cache_store_entries')).toBe(stats.entries);
    expect(metricValue(text, 'simple_cache_store_size_bytes')).toBe(stats.size);
    expect(metricValue(text, 'simple_cache_store_max_size_bytes')).toBe(20 * 1024);
    expect(metricValue(text, 'simple_cache_store_evictions_total')).toBe(stats.evictions);
  });
});
