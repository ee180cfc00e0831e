import { describe, expect, test } from '@jest/globals';
import { untilStored, useTwoWorkers } from './helpers/workers.js';

/**
 * Every purge, through either worker, has taken effect in both workers' memory before it is
 * answered: the next request to the other worker, at once, does not get the purged response.
 */
describe('--workers 2: a purge of any kind holds in every worker before it is answered', () => {
  let version = 0;
  const workers = useTwoWorkers({
    '*': (req, res) => {
      const etag = `"v${version}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'public, max-age=600' });
        return void res.end();
      }
      const body = `${req.url} v${version}`;
      res.writeHead(200, {
        'content-length': Buffer.byteLength(body),
        'cache-control': 'public, max-age=600',
        etag,
        'surrogate-key': `all ${req.url?.split('/')[1] ?? ''}`,
      });
      res.end(body);
    },
  });

  /** Stored through worker one, then held in worker two's memory (a HIT there). */
  async function storeInBoth(path: string): Promise<void> {
    expect((await workers.one.get(path)).headers['x-cache']).toBe('MISS');
    expect((await untilStored(workers.two, path)).headers['x-cache']).toBe('HIT');
    expect((await workers.two.get(path)).headers['x-cache']).toBe('HIT');
  }

  // Each test stores its path again after the purge: `all` purges the five before it as well.
  test.each([
    ['PURGE of the URL', '/a/url', 'PURGE', '/a/url', 1],
    ['PURGE of a prefix (/dir/*)', '/pre/x', 'PURGE', '/pre/*', 1],
    ['DELETE by url=', '/del/url', 'DELETE', '/_cache/entries?url=/del/url', 1],
    ['DELETE by prefix=', '/dp/x', 'DELETE', '/_cache/entries?prefix=/dp/', 1],
    ['DELETE by tag=', '/tagged/x', 'DELETE', '/_cache/entries?tag=tagged', 1],
    ['DELETE all=1', '/every/x', 'DELETE', '/_cache/entries?all=1', 6],
  ])('%s through one worker: the other misses at once', async (_label, path, method, target, count) => {
    await storeInBoth(path);
    const before = workers.origin.count(path);
    const purged = await workers.one.get(target, {}, method);
    expect(purged.status).toBe(200);
    expect(JSON.parse(purged.body.toString())).toMatchObject({ purged: count, soft: false });
    const after = await workers.two.get(path);
    expect(after.headers['x-cache']).toBe('MISS');
    expect(workers.origin.count(path)).toBe(before + 1);
  });

  test('a soft purge through one worker: the other revalidates at once instead of serving it', async () => {
    await storeInBoth('/soft/x');
    const purged = await workers.one.get('/_cache/entries?url=/soft/x&soft=1', {}, 'DELETE');
    expect(JSON.parse(purged.body.toString())).toMatchObject({ purged: 1, soft: true });
    const after = await workers.two.get('/soft/x');
    expect(after.headers['x-cache']).toBe('REVALIDATED');
    expect(workers.origin.requests.at(-1)?.headers['if-none-match']).toBe(`"v${version}"`);
  });

  test('a purge through the other worker, after new content: both serve the new one', async () => {
    await storeInBoth('/new/x');
    version += 1;
    await workers.two.get('/new/x', {}, 'PURGE');
    expect((await workers.one.get('/new/x')).body.toString()).toBe(`/new/x v${version}`);
    expect((await untilStored(workers.two, '/new/x')).body.toString()).toBe(`/new/x v${version}`);
  });
});
