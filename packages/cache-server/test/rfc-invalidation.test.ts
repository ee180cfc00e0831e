import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import { request, waitFor } from './helpers/http.js';
import type { Route } from './helpers/test-origin.js';
import { cacheStatusOf, respond, startHarness, type Harness } from './helpers/rfc-harness.js';

/** GET: a fresh, storable document; any other method: `status` with `headers` (Location, …). */
function resource(unsafe: { status: number; headers?: Record<string, string> } = { status: 200 }): Route {
  return (req, res, body) => {
    if (req.method === 'GET') return respond({ 'cache-control': 'max-age=600' }, `doc ${req.url}`)(req, res, body);
    respond(unsafe.headers ?? {}, 'done', unsafe.status)(req, res, body);
  };
}

describe('invalidation by unsafe requests (RFC 9111 §4.4)', () => {
  let h: Harness;
  let originUrl: string;
  let held: ServerResponse | undefined;

  beforeAll(async () => {
    h = await startHarness({
      '/doc': resource(),
      '/failed': resource({ status: 500 }),
      '/refused': resource({ status: 403 }),
      '/moved': resource({ status: 201, headers: { location: '/created', 'content-location': 'described' } }),
      '/created': resource(),
      '/described': resource(),
      '/absolute': resource({ status: 200 }),
      '/elsewhere': resource({ status: 200, headers: { location: 'http://other.example/doc' } }),
      '/racing': (req, res, body) => {
        if (req.method !== 'GET') return respond({}, 'changed')(req, res, body);
        if (held) return respond({ 'cache-control': 'max-age=600' }, 'after-put')(req, res, body);
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 10 });
        res.write('before');
        held = res;
      },
      '/post-cacheable': (req, res, body) => {
        if (req.method === 'GET') return respond({ 'cache-control': 'max-age=600' }, 'from GET')(req, res, body);
        respond({ 'cache-control': 'max-age=600', 'content-location': '/post-cacheable' }, 'from POST')(req, res, body);
      },
    });
    originUrl = h.origin.url;
    h.origin.route('/absolute', resource({ status: 200, headers: { location: `${originUrl}/created` } }));
  });
  afterAll(async () => {
    await h?.close();
  });

  async function stored(path: string): Promise<void> {
    await h.get(path);
    await h.settle();
    expect((await h.get(path)).headers['x-cache']).toBe('HIT');
  }

  const send = (path: string, method: string) =>
    request(h.cache.url, path, { method, headers: { 'content-length': 1 }, body: 'x' });

  test.each(['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'])(
    'a successful %s invalidates the stored response for its URL',
    async (method) => {
      await stored('/doc');
      const reply = await send('/doc', method);
      expect(reply.status).toBe(200);
      expect(reply.headers['x-cache']).toBe('BYPASS');
      expect((await h.get('/doc')).headers['x-cache']).toBe('MISS');
    },
  );

  test.each([
    ['a 5xx', '/failed'],
    ['a 4xx', '/refused'],
  ])('%s answer to an unsafe request invalidates nothing (non-error status only)', async (_rule, path) => {
    await stored(path);
    await send(path, 'POST');
    expect((await h.get(path)).headers['x-cache']).toBe('HIT');
  });

  test('Location and Content-Location on the same origin are invalidated too, relative or absolute', async () => {
    await stored('/created');
    await stored('/described');
    await send('/moved', 'POST');
    expect((await h.get('/created')).headers['x-cache']).toBe('MISS');
    expect((await h.get('/described')).headers['x-cache']).toBe('MISS');
    await h.settle();
    await stored('/created');
    await send('/absolute', 'PUT');
    expect((await h.get('/created')).headers['x-cache']).toBe('MISS');
  });

  test('a Location on another origin invalidates nothing here, even with the same path', async () => {
    await stored('/doc');
    await send('/elsewhere', 'DELETE');
    expect((await h.get('/doc')).headers['x-cache']).toBe('HIT');
  });

  test('a POST response with explicit freshness and its own URL as Content-Location is not stored: it invalidates (RFC 9110 §9.3.3 allows storing; see hostile-post-host)', async () => {
    await stored('/post-cacheable');
    const post = await send('/post-cacheable', 'POST');
    expect(post.body.toString()).toBe('from POST');
    expect(cacheStatusOf(post)).toBe('fwd=method; fwd-status=200');
    await h.settle();
    expect(await h.cache.store.lookup(`${originUrl}/post-cacheable`)).toEqual([]);
    const get = await h.get('/post-cacheable');
    expect([get.headers['x-cache'], get.body.toString()]).toEqual(['MISS', 'from GET']);
  });

  test('an invalidation while a fetch for the URL is in flight: what that fetch stores is dropped', async () => {
    const stale = request(h.cache.url, '/racing');
    await waitFor(() => held !== undefined, 'the GET to be under way');
    expect((await send('/racing', 'PUT')).status).toBe(200);
    held?.end('-put');
    expect((await stale).body.toString()).toBe('before-put');
    const key = `${originUrl}/racing`;
    await waitFor(async () => (await h.cache.store.lookup(key)).length === 0, 'the pre-PUT body to be dropped');
    const fresh = await h.get('/racing');
    expect([fresh.headers['x-cache'], fresh.body.toString()]).toEqual(['MISS', 'after-put']);
  });
});
