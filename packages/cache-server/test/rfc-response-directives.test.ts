import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import type { Route } from './helpers/test-origin.js';
import { request, waitFor } from './helpers/http.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, sequence, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

/** An origin that is down: the connection is reset before any response. */
const down: Route = (req) => req.socket.destroy();

/** Response Cache-Control directives (RFC 9111 §5.2.2) and Pragma (§5.4), through real requests. */
describe('response directives (RFC 9111 §5.2.2)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  let held: ServerResponse | undefined;
  const ETAG = '"v1"';

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '/no-store': respond({ 'cache-control': 'no-store' }),
      '/no-store-fresh': respond((now) => ({
        'cache-control': 'max-age=10000, no-store',
        expires: httpDate(now + 10_000_000),
      })),
      '/no-cache': validating({ 'cache-control': 'max-age=10000, no-cache', etag: ETAG }, 'no-cache body'),
      '/no-cache-fields': validating(
        { 'cache-control': 'max-age=100, no-cache="x-a"', etag: ETAG, 'x-a': 'secret-ish', 'x-b': 'kept' },
        'body',
      ),
      '/private': respond({ 'cache-control': 'private, max-age=3600' }),
      '/private-fields': respond({ 'cache-control': 'max-age=3600, private="x-user"', 'x-user': 'alice', 'x-b': '2' }),
      '/public-599': respond(
        (now) => ({ 'cache-control': 'public', 'last-modified': httpDate(now - 100_000) }),
        'x',
        599,
      ),
      '/no-public-599': respond((now) => ({ 'last-modified': httpDate(now - 100_000) }), 'x', 599),
      '/must-revalidate': validating({ 'cache-control': 'max-age=10, must-revalidate', etag: ETAG }),
      '/must-revalidate-down': sequence(
        respond({ 'cache-control': 'max-age=10, must-revalidate, stale-if-error=600' }),
        down,
      ),
      '/proxy-revalidate': respond({ 'cache-control': 'max-age=10, proxy-revalidate' }),
      '/s-maxage': respond({ 'cache-control': 's-maxage=10' }),
      '/plain-max-age': respond({ 'cache-control': 'max-age=10' }),
      '/must-understand': respond({ 'cache-control': 'max-age=60, no-store, must-understand' }),
      '/must-understand-299': respond({ 'cache-control': 'max-age=60, no-store, must-understand' }, 'x', 299),
      '/immutable': respond({ 'cache-control': 'max-age=600, immutable' }),
      '/pragma': validating({ 'cache-control': 'max-age=600', etag: ETAG }),
      '/pragma-response': respond({ 'cache-control': 'max-age=600', pragma: 'no-cache' }),
      '/no-cache-slow': (req, res) => {
        if (req.headers['if-none-match'] === ETAG) return respond({ etag: ETAG }, '', 304)(req, res, Buffer.alloc(0));
        res.writeHead(200, { 'cache-control': 'no-cache', etag: ETAG, date: httpDate(), 'content-length': 8 });
        res.write('half');
        held = res;
      },
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  /** Fetches `path` once (a miss), waits for it to be stored, then moves the clock. */
  async function prime(path: string, secondsLater = 1, headers = {}): Promise<void> {
    await h.get(path, headers);
    await h.settle();
    clock.advance(secondsLater);
  }

  test('no-store: never stored, every request reaches the origin (§5.2.2.5)', async () => {
    const first = await h.get('/no-store');
    expect(cacheStatusOf(first)).toMatch(/fwd=uri-miss; fwd-status=200; detail=no-store/);
    await h.settle();
    expect((await h.get('/no-store')).headers['x-cache']).toBe('MISS');
    await prime('/no-store-fresh');
    expect((await h.get('/no-store-fresh')).headers['x-cache']).toBe('MISS');
    expect(h.seen('/no-store')).toBe(2);
    expect(h.seen('/no-store-fresh')).toBe(2);
  });

  test('bare no-cache: stored, but validated on every use even while fresh (§5.2.2.4)', async () => {
    await prime('/no-cache');
    const reply = await h.get('/no-cache');
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    expect(reply.body.toString()).toBe('no-cache body');
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBe(ETAG);
    expect(cacheStatusOf(reply)).toMatch(/^fwd=stale; fwd-status=304/);
  });

  test('no-cache="x-a": served fresh without x-a; after validation x-a may be sent (§5.2.2.4)', async () => {
    const miss = await h.get('/no-cache-fields');
    expect(miss.headers['x-a']).toBe('secret-ish');
    await h.settle();
    const hit = await h.get('/no-cache-fields');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-a']).toBeUndefined();
    expect(hit.headers['x-b']).toBe('kept');
    clock.advance(200);
    const validated = await h.get('/no-cache-fields');
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
    expect(validated.headers['x-a']).toBe('secret-ish');
  });

  test('bare private: a shared cache does not store it (§5.2.2.7)', async () => {
    const first = await h.get('/private');
    expect(cacheStatusOf(first)).toMatch(/detail=private/);
    await h.settle();
    expect((await h.get('/private')).headers['x-cache']).toBe('MISS');
    expect(h.seen('/private')).toBe(2);
  });

  test('private="x-user": stored, but x-user never leaves the cache (§5.2.2.7)', async () => {
    const miss = await h.get('/private-fields');
    expect(miss.headers['x-user']).toBe('alice');
    await h.settle();
    const hit = await h.get('/private-fields');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-user']).toBeUndefined();
    expect(hit.headers['x-b']).toBe('2');
  });

  test('public lets a status that is not heuristically cacheable be heuristically fresh (§5.2.2.9)', async () => {
    await prime('/public-599');
    const hit = await h.get('/public-599');
    expect(hit.status).toBe(599);
    expect(hit.headers['x-cache']).toBe('HIT');
    await prime('/no-public-599');
    expect((await h.get('/no-public-599')).headers['x-cache']).toBe('MISS');
  });

  test('must-revalidate: reused while fresh, validated once stale whatever the client accepts (§5.2.2.2)', async () => {
    await prime('/must-revalidate');
    expect((await h.get('/must-revalidate')).headers['x-cache']).toBe('HIT');
    clock.advance(20);
    const stale = await h.get('/must-revalidate', { 'cache-control': 'max-stale=600' });
    expect(stale.headers['x-cache']).toBe('REVALIDATED');
  });

  test('must-revalidate: with the origin down the stale response is not served, stale-if-error or not', async () => {
    await prime('/must-revalidate-down', 20);
    const reply = await h.get('/must-revalidate-down');
    expect(reply.status).toBe(502);
    expect(reply.headers['x-cache']).not.toBe('STALE');
  });

  test.each([
    ['proxy-revalidate (§5.2.2.8)', '/proxy-revalidate', 'EXPIRED'],
    ['s-maxage implies proxy-revalidate (§5.2.2.10)', '/s-maxage', 'EXPIRED'],
    ['without either, max-stale serves it stale (§5.2.1.2)', '/plain-max-age', 'HIT'],
  ])('%s: a stale entry and request max-stale=600', async (_rule, path, expected) => {
    await prime(path, 20);
    const reply = await h.get(path, { 'cache-control': 'max-stale=600' });
    expect(reply.headers['x-cache']).toBe(expected);
  });

  test('must-understand with an understood status overrides no-store (§5.2.2.3)', async () => {
    await prime('/must-understand');
    expect((await h.get('/must-understand')).headers['x-cache']).toBe('HIT');
  });

  test('must-understand with a status the cache does not know: not stored (§5.2.2.3)', async () => {
    const first = await h.get('/must-understand-299');
    expect(cacheStatusOf(first)).toMatch(/detail=must-understand/);
    await prime('/must-understand-299');
    expect((await h.get('/must-understand-299')).headers['x-cache']).toBe('MISS');
  });

  test('immutable: a reload (max-age=0) is answered from the cache, a force reload (no-cache) is not (RFC 8246)', async () => {
    await prime('/immutable');
    const reload = await h.get('/immutable', { 'cache-control': 'max-age=0' });
    expect(reload.headers['x-cache']).toBe('HIT');
    expect(cacheStatusOf(reload)).toMatch(/detail=immutable/);
    const force = await h.get('/immutable', { 'cache-control': 'no-cache' });
    expect(force.headers['x-cache']).not.toBe('HIT');
    expect(h.seen('/immutable')).toBe(2);
  });

  test('Pragma: no-cache in a request without Cache-Control means no-cache (§5.4)', async () => {
    await prime('/pragma');
    const reply = await h.get('/pragma', { pragma: 'no-cache' });
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    expect(cacheStatusOf(reply)).toMatch(/^fwd=request/);
  });

  test('Pragma is ignored when the request has Cache-Control, and in responses (§5.4)', async () => {
    expect((await h.get('/pragma', { pragma: 'no-cache', 'cache-control': 'max-stale' })).headers['x-cache']).toBe(
      'HIT',
    );
    await prime('/pragma-response');
    expect((await h.get('/pragma-response')).headers['x-cache']).toBe('HIT');
  });

  test('a client arriving after a no-cache response arrived does not share it: it validates (§5.2.2.4)', async () => {
    const lookups = countLookups(h, '/no-cache-slow');
    const first = request(h.cache.url, '/no-cache-slow');
    await waitFor(() => held !== undefined, 'the response head');
    // The head is here, the body is not: the second request finds the fetch in flight.
    const second = request(h.cache.url, '/no-cache-slow');
    await waitFor(() => lookups() === 2, 'the second request to look up the key');
    await new Promise((resolve) => setImmediate(resolve));
    held?.end('body');
    expect((await first).body.toString()).toBe('halfbody');
    const late = await second;
    expect(late.body.toString()).toBe('halfbody');
    expect(late.headers['x-cache']).toBe('REVALIDATED');
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBe(ETAG);
  });
});

/** Counts the store lookups for `path` that have completed (the proxy's first step for a request). */
function countLookups(h: Harness, path: string): () => number {
  const { store } = h.cache;
  const original = store.lookup.bind(store);
  let count = 0;
  store.lookup = async (key) => {
    const found = await original(key);
    if (key.endsWith(path)) count++;
    return found;
  };
  return () => count;
}
