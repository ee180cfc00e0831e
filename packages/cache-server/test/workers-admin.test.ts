import { beforeAll, describe, expect, test } from '@jest/globals';
import os from 'node:os';
import { blockSizeOf } from '../src/store/disk-bounds.js';
import { fixed } from './helpers/test-origin.js';
import { untilEntries, useTwoWorkers, type WorkerConnection } from './helpers/workers.js';
import { request } from './helpers/http.js';

interface Stats {
  requests: { total: number; byCacheStatus: Record<string, number>; fromCache: number };
  origin: { requests: number };
  store: { entries: number; size: number; hotTier?: { entries: number } };
  history: { requests: number[] };
}

/** The Prometheus text's value of one series (name and exact label set), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('--workers 2: admin endpoints and metrics answer for the whole cache, through either worker', () => {
  const workers = useTwoWorkers(
    { '*': fixed('0123456789', { 'cache-control': 'public, max-age=600', 'surrogate-key': 'ten' }) },
    () => ['--admin-port', '0'],
  );
  let one: WorkerConnection;
  let two: WorkerConnection;
  let block = 0;

  beforeAll(async () => {
    ({ one, two } = workers);
    block = await blockSizeOf(os.tmpdir());
    // Traffic on both: worker one stores /x and serves it once, worker two stores /y and serves /x three times.
    await one.get('/x');
    await untilEntries(one, 1);
    await one.get('/x');
    await two.get('/y');
    await untilEntries(two, 2);
    for (let i = 0; i < 3; i++) await two.get('/x');
  });

  test('stats sums both workers’ traffic and shows the one store, whichever worker is asked', async () => {
    for (const connection of [one, two]) {
      const stats = JSON.parse((await connection.get('/_cache/stats')).body.toString()) as Stats;
      // The two misses and the four HITs; admin calls are not traffic.
      expect(stats.requests.byCacheStatus).toEqual({ MISS: 2, HIT: 4 });
      expect(stats.requests.total).toBe(6);
      expect(stats.origin.requests).toBe(2);
      // What the two entries take on disk: a block for each body and each meta file.
      expect(stats.store).toMatchObject({ entries: 2, size: 4 * block });
      expect(stats.store.hotTier?.entries).toBeGreaterThanOrEqual(2);
      expect(stats.history.requests.reduce((a, b) => a + b, 0)).toBe(6);
    }
  });

  test('/metrics sums the workers (prom-client aggregation) and labels what is per worker', async () => {
    const text = (await two.get('/_cache/metrics')).body.toString();
    expect(sample(text, 'simple_cache_requests_total{cache_status="hit"}')).toBe(4);
    expect(sample(text, 'simple_cache_requests_total{cache_status="miss"}')).toBe(2);
    expect(sample(text, 'simple_cache_origin_requests_total{status_class="2xx"}')).toBe(2);
    expect(sample(text, 'simple_cache_request_duration_seconds_count{cache_status="hit"}')).toBe(4);
    // The store once, not once per worker.
    expect(sample(text, 'simple_cache_store_entries')).toBe(2);
    expect(sample(text, 'simple_cache_store_size_bytes')).toBe(4 * block);
    expect(sample(text, 'simple_cache_workers')).toBe(2);
    const perWorker = [one, two].map((c) => sample(text, `simple_cache_worker_requests_total{worker="${c.slot}"}`));
    expect(perWorker).toEqual([2, 4]);
    expect(sample(text, `simple_cache_worker_restarts_total{worker="${one.slot}"}`)).toBe(0);
    expect(sample(text, `simple_cache_worker_resident_memory_bytes{worker="${two.slot}"}`)).toBeGreaterThan(0);
    // Process metrics of every process, summed (or averaged, as prom-client declares for each).
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('entries lists what either worker stored, with the hits both served', async () => {
    const page = JSON.parse((await one.get('/_cache/entries?sort=key')).body.toString()) as {
      total: number;
      items: { path: string; hits: number; tags: string[] }[];
    };
    expect(page.total).toBe(2);
    expect(page.items.map((item) => [item.path, item.hits])).toEqual([
      ['/x', 4],
      ['/y', 0],
    ]);
    expect(page.items[0]?.tags).toEqual(['ten']);
  });

  test('explain through the worker that did not store it', async () => {
    const answer = JSON.parse((await two.get('/_cache/explain?url=/x&probe=0')).body.toString()) as {
      stored: number;
      variants: { next: { outcome: string } }[];
    };
    expect(answer.stored).toBe(1);
    expect(answer.variants[0]?.next.outcome).toBe('hit');
  });

  test('health, ready and the dashboard answer through both workers and on --admin-port', async () => {
    const adminPort = /"adminPort":(\d+)/.exec(workers.cli.spawned.stdout())?.[1];
    expect(adminPort).toBeDefined();
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    for (const get of [one.get, two.get, (path: string) => request(adminUrl, path)]) {
      const health = await get('/_cache/health');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body.toString())).toMatchObject({ status: 'ok' });
      expect((await get('/_cache/ready')).status).toBe(200);
      const page = await get('/_cache/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.headers['cache-control']).toBe('no-store');
    }
    const stats = JSON.parse((await request(adminUrl, '/_cache/stats')).body.toString()) as Stats;
    expect(stats.requests.total).toBe(6);
  });

  test('a method an admin endpoint does not take: 405 with its Allow, through either worker (the primary answers)', async () => {
    for (const [connection, path, allow] of [
      [one, '/_cache/entries', 'DELETE, GET, HEAD'],
      [two, '/_cache/workers', 'GET, HEAD'],
    ] as const) {
      const answer = await connection.get(path, {}, 'POST');
      expect(answer.status).toBe(405);
      expect(answer.headers.allow).toBe(allow);
      expect(answer.headers['x-cache-error']).toBe('CACHE_ERR_METHOD_NOT_ALLOWED');
    }
  });

  test('an admin path is never forwarded to the origin, however it is spelt', async () => {
    const before = workers.origin.count();
    for (const target of ['/_cache/nothing-here', '/%5Fcache/stats', '/x/../_cache/stats']) {
      const answer = await one.get(target);
      expect(answer.headers['x-cache']).toBeUndefined();
    }
    expect(workers.origin.count()).toBe(before);
  });
});
