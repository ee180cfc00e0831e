import { beforeEach, describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/** Every route the origin serves, and the headers it stores them with. */
const ROUTES: Record<string, http.OutgoingHttpHeaders> = {
  '/p/a': {},
  '/p/b': {},
  '/other': {},
  '/t/1': { 'surrogate-key': 'product-1 catalog' },
  '/t/2': { 'cache-tag': 'product-2,catalog' },
  '/t/3': { 'surrogate-key': 'product-3' },
};
const PATHS = Object.keys(ROUTES);

describe('purging', () => {
  let originDown = false;

  const env = useOriginAndCache({
    '*': (req, res) => {
      const path = (req.url ?? '').split('?')[0] as string;
      if (originDown) return res.destroy();
      if (path === '/v') {
        // Two variants of one key (RFC 9111 §4.1).
        const body = `lang ${req.headers['accept-language']}`;
        res.writeHead(200, {
          'cache-control': 'max-age=600',
          vary: 'accept-language',
          'content-length': body.length,
        });
        return res.end(body);
      }
      const headers = ROUTES[path];
      if (!headers) {
        res.writeHead(404);
        return res.end();
      }
      if (req.headers['if-none-match'] === '"v1"') {
        res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=600, stale-if-error=600' });
        return res.end();
      }
      const body = `body of ${path}`;
      res.writeHead(200, {
        'cache-control': 'max-age=600, stale-if-error=600',
        etag: '"v1"',
        'content-length': body.length,
        ...headers,
      });
      res.end(body);
    },
  });

  const key = (path: string) => `${env.origin.url}${path}`;
  const storedPaths = async () => {
    const out: string[] = [];
    for (const path of PATHS) if ((await env.cache.store.lookup(key(path))).length > 0) out.push(path);
    return out;
  };

  beforeEach(async () => {
    originDown = false;
    for (const path of PATHS) await request(env.cache.url, path);
    await waitFor(async () => (await storedPaths()).length === PATHS.length, 'every route to be stored');
  });

  async function expectOnlyGone(gone: string[]): Promise<void> {
    expect(await storedPaths()).toEqual(PATHS.filter((path) => !gone.includes(path)));
    // A purged URL is fetched again; the others are still hits.
    for (const path of PATHS) {
      const xCache = (await request(env.cache.url, path)).headers['x-cache'];
      expect({ path, xCache }).toEqual({ path, xCache: gone.includes(path) ? 'MISS' : 'HIT' });
    }
  }

  test('PURGE /path removes that URL only (the Varnish/Squid habit)', async () => {
    const reply = await admin(env.cache.url, '/p/a', { method: 'PURGE' });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ purged: 1, soft: false });
    await expectOnlyGone(['/p/a']);
  });

  test('PURGE /dir/* removes every URL under /dir/', async () => {
    expect((await admin(env.cache.url, '/p/*', { method: 'PURGE' })).json).toEqual({ purged: 2, soft: false });
    await expectOnlyGone(['/p/a', '/p/b']);
  });

  test('PURGE removes every variant of the URL', async () => {
    await request(env.cache.url, '/v', { headers: { 'accept-language': 'en' } });
    await request(env.cache.url, '/v', { headers: { 'accept-language': 'fr' } });
    await waitFor(async () => (await env.cache.store.lookup(key('/v'))).length === 2, 'two variants');
    expect((await admin(env.cache.url, '/v', { method: 'PURGE' })).json).toEqual({ purged: 2, soft: false });
    expect(await env.cache.store.lookup(key('/v'))).toEqual([]);
  });

  test.each([
    ['a path', '/p/b'],
    ['a path that normalises to it', '/p/x/../b'],
    ['the URL at the cache', `CACHE/p/b`],
    ['the URL at the origin', `ORIGIN/p/b`],
  ])('DELETE <prefix>/entries?url= accepts %s', async (_form, given) => {
    const url = given.replace('CACHE', env.cache.url).replace('ORIGIN', env.origin.url);
    const reply = await admin(env.cache.url, `${PREFIX}/entries?url=${encodeURIComponent(url)}`, { method: 'DELETE' });
    expect(reply.json).toEqual({ purged: 1, soft: false });
    await expectOnlyGone(['/p/b']);
  });

  test('DELETE <prefix>/entries?prefix= removes every URL starting with it', async () => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?prefix=/t/`, { method: 'DELETE' });
    expect(reply.json).toEqual({ purged: 3, soft: false });
    await expectOnlyGone(['/t/1', '/t/2', '/t/3']);
  });

  test('DELETE <prefix>/entries?tag= uses Surrogate-Key (space separated) and Cache-Tag (comma separated)', async () => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?tag=catalog`, { method: 'DELETE' });
    expect(reply.json).toEqual({ purged: 2, soft: false });
    await expectOnlyGone(['/t/1', '/t/2']);
  });

  test('several tags at once: repeated or comma separated', async () => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?tag=product-1,product-3&tag=nothing`, {
      method: 'DELETE',
    });
    expect(reply.json).toEqual({ purged: 2, soft: false });
    await expectOnlyGone(['/t/1', '/t/3']);
  });

  test('DELETE <prefix>/entries?all=1 empties the cache', async () => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?all=1`, { method: 'DELETE' });
    expect(reply.json).toEqual({ purged: PATHS.length, soft: false });
    expect(env.cache.store.stats().entries).toBe(0);
    await expectOnlyGone(PATHS);
  });

  test('soft purge (?soft=1): kept, stale now, revalidated with a 304 on the next request', async () => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?url=/p/a&soft=1`, { method: 'DELETE' });
    expect(reply.json).toEqual({ purged: 1, soft: true });
    expect(await storedPaths()).toEqual(PATHS);
    const conditionalBefore = env.origin.requests.filter((r) => r.headers['if-none-match']).length;
    const next = await request(env.cache.url, '/p/a');
    expect(next.headers['x-cache']).toBe('REVALIDATED');
    expect(next.body.toString()).toBe('body of /p/a');
    expect(env.origin.requests.filter((r) => r.headers['if-none-match']).length).toBe(conditionalBefore + 1);
    // The 304 made it fresh again.
    expect((await request(env.cache.url, '/p/a')).headers['x-cache']).toBe('HIT');
    expect((await request(env.cache.url, '/p/b')).headers['x-cache']).toBe('HIT');
  });

  test('soft purge (PURGE + Soft-Purge: 1) keeps the entry for stale-if-error when the origin is down', async () => {
    const reply = await admin(env.cache.url, '/t/*', { method: 'PURGE', headers: { 'soft-purge': '1' } });
    expect(reply.json).toEqual({ purged: 3, soft: true });
    originDown = true;
    const served = await request(env.cache.url, '/t/2');
    expect(served.status).toBe(200);
    expect(served.headers['x-cache']).toBe('STALE');
    expect(served.body.toString()).toBe('body of /t/2');
    // Untouched entries are still plain hits.
    expect((await request(env.cache.url, '/p/a')).headers['x-cache']).toBe('HIT');
  });

  test.each([
    ['no selector', ''],
    ['two selectors', 'url=/p/a&prefix=/p/'],
    ['a URL that is not http(s)', 'url=ftp%3A%2F%2Fexample.test%2Fp%2Fa'],
    ['a relative URL', 'url=p/a'],
  ])('DELETE <prefix>/entries with %s → 400, nothing purged', async (_case, query) => {
    const reply = await admin(env.cache.url, `${PREFIX}/entries?${query}`, { method: 'DELETE' });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toBe('CACHE_ERR_ADMIN_BAD_REQUEST');
    expect(await storedPaths()).toEqual(PATHS);
  });
});
