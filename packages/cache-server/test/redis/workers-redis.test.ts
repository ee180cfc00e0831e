// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed } from '../helpers/test-origin.js';
import { untilStored, useTwoWorkers, type WorkerConnection } from '../helpers/workers.js';

/** `--workers 2 --store redis://…`: each worker a node on the shared Redis store, one cache for both. */
describe('--workers 2 on the Redis store', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  const workers = useTwoWorkers({ '*': fixed('from the origin', { 'cache-control': 'public, max-age=600' }) }, () => [
    '--store',
    `${server.url}/0`,
  ]);
  // Declared after the workers' own: Redis stops once they have.
  afterAll(() => server?.cleanup());
  let one: WorkerConnection;
  let two: WorkerConnection;
  beforeAll(() => {
    ({ one, two } = workers);
  });

  test('stored by one worker, a HIT in the other, one origin request', async () => {
    expect((await one.get('/r')).headers['x-cache']).toBe('MISS');
    expect((await untilStored(two, '/r')).headers['x-cache']).toBe('HIT');
    expect((await two.get('/r')).body.toString()).toBe('from the origin');
    expect(workers.origin.count('/r')).toBe(1);
  });

  test('a purge through one worker holds in the other’s memory tier before it is answered', async () => {
    await one.get('/p');
    await untilStored(two, '/p');
    expect((await two.get('/p')).headers['x-cache']).toBe('HIT');
    const purged = await one.get('/p', {}, 'PURGE');
    expect(JSON.parse(purged.body.toString())).toMatchObject({ purged: 1 });
    expect((await two.get('/p')).headers['x-cache']).toBe('MISS');
    expect(workers.origin.count('/p')).toBe(2);
  });

  test('stats count the Redis store once and both workers’ traffic', async () => {
    await waitFor(async () => {
      const stats = JSON.parse((await two.get('/_cache/stats')).body.toString()) as {
        store: { entries: number };
        requests: { byCacheStatus: Record<string, number> };
      };
      return stats.store.entries === 2 && (stats.requests.byCacheStatus.MISS ?? 0) >= 3;
    }, 'the stats to show both entries and every miss');
  });
});
