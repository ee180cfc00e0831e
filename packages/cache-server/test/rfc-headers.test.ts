import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http, { type ServerResponse } from 'node:http';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { waitFor } from './helpers/http.js';
import { cacheStatusOf, respond, sequence, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

/** Headers the cache sends to clients: Age, hop-by-hop removal, Cache-Status (RFC 9211) and X-Cache. */
describe('headers sent to clients (RFC 9111 §5.1, RFC 9110 §7.6.1, RFC 9211)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  let held: ServerResponse | undefined;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '/aged': respond({ 'cache-control': 'max-age=600' }),
      '/upstream-age': respond({ 'cache-control': 'max-age=600', age: '30' }),
      '/revalidated': validating({ 'cache-control': 'max-age=10', etag: '"r"' }),
      '/hop': respond({
        'cache-control': 'max-age=600',
        connection: 'x-hop, keep-alive',
        'x-hop': 'one connection only',
        'keep-alive': 'timeout=5',
        'x-end-to-end': 'kept',
      }),
      '/status': sequence(
        respond({ 'cache-control': 'max-age=10' }, 'v1'),
        respond({ 'cache-control': 'max-age=10' }, 'v2'),
      ),
      '/upstream-status': respond({ 'cache-control': 'max-age=600', 'cache-status': 'OriginCache; hit; ttl=10' }),
      '/slow': (_req, res) => {
        held = res;
      },
      // must-revalidate: otherwise the stale response would answer for the unreachable origin (§4.2.4).
      '/down': sequence(respond({ 'cache-control': 'max-age=1, must-revalidate' }), (req) => req.socket.destroy()),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test('Age is on every response from the cache, and grows with time (§5.1)', async () => {
    const miss = await h.get('/aged');
    expect(miss.headers.age).toBeUndefined();
    await h.settle();
    clock.advance(7);
    expect((await h.get('/aged')).headers.age).toBe('7');
    clock.advance(3);
    expect((await h.get('/aged')).headers.age).toBe('10');
  });

  test('an Age from upstream is relayed on the miss and counted on the hit (§4.2.3)', async () => {
    expect((await h.get('/upstream-age')).headers.age).toBe('30');
    await h.settle();
    clock.advance(5);
    expect((await h.get('/upstream-age')).headers.age).toBe('35');
  });

  test('Date is the origin’s, never rewritten on a hit', async () => {
    const miss = await h.get('/aged');
    clock.advance(5);
    const hit = await h.get('/aged');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers.date).toBe(miss.headers.date);
  });

  test('a revalidated response carries Age too (the age of the 304, §4.3.4)', async () => {
    await h.get('/revalidated');
    await h.settle();
    clock.advance(20);
    const reply = await h.get('/revalidated');
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    expect(reply.headers.age).toBe('0');
  });

  test('hop-by-hop fields, and those Connection names, are neither relayed nor stored (RFC 9110 §7.6.1)', async () => {
    const miss = await h.get('/hop');
    await h.settle();
    const hit = await h.get('/hop');
    for (const reply of [miss, hit]) {
      expect(reply.headers['x-hop']).toBeUndefined();
      expect(reply.headers['keep-alive']).toBeUndefined();
      expect(reply.headers['x-end-to-end']).toBe('kept');
    }
    const [entry] = await h.cache.store.lookup(`${h.origin.url}/hop`);
    expect(Object.keys(entry?.headers ?? {})).not.toContain('x-hop');
    expect(Object.keys(entry?.headers ?? {})).not.toContain('connection');
  });

  test('hop-by-hop request fields are not forwarded to the origin', async () => {
    await h.get('/fresh-path-for-hop', { connection: 'x-client-hop', 'x-client-hop': '1', te: 'trailers' });
    const seen = h.origin.requests.at(-1);
    expect(seen?.headers['x-client-hop']).toBeUndefined();
    expect(seen?.headers.te).toBeUndefined();
  });

  test('Cache-Status and X-Cache on a miss, a hit and an expired entry', async () => {
    const miss = await h.get('/status');
    expect([miss.headers['x-cache'], cacheStatusOf(miss)]).toEqual(['MISS', 'fwd=uri-miss; fwd-status=200; stored']);
    await h.settle();
    clock.advance(4);
    const hit = await h.get('/status');
    expect([hit.headers['x-cache'], cacheStatusOf(hit)]).toEqual(['HIT', 'hit; ttl=6']);
    clock.advance(10);
    const expired = await h.get('/status');
    expect(expired.body.toString()).toBe('v2');
    expect([expired.headers['x-cache'], cacheStatusOf(expired)]).toEqual([
      'EXPIRED',
      'fwd=stale; fwd-status=200; stored',
    ]);
  });

  test('our Cache-Status member is appended after the upstream ones (RFC 9211 §2)', async () => {
    await h.get('/upstream-status');
    await h.settle();
    const hit = await h.get('/upstream-status');
    expect(hit.headers['cache-status']).toMatch(/^OriginCache; hit; ttl=10, simple-cache; hit; ttl=\d+$/);
  });

  test('a request that shared another one’s origin fetch says collapsed (RFC 9211 §2.7)', async () => {
    const first = openStream(h.cache.url, '/slow');
    await waitFor(() => held !== undefined, 'the origin to be asked');
    held?.writeHead(200, { 'cache-control': 'max-age=600', date: httpDate(), 'content-length': 8 });
    held?.write('slow');
    const firstHead = await first.head;
    // The body is not complete, so nothing is stored yet: the second request can only join the fetch.
    const second = openStream(h.cache.url, '/slow');
    const secondHead = await second.head;
    held?.end('body');
    expect(await second.body).toBe('slowbody');
    expect(await first.body).toBe('slowbody');
    expect(cacheStatusOf({ headers: firstHead.headers })).toBe('fwd=uri-miss; fwd-status=200; stored');
    expect(cacheStatusOf({ headers: secondHead.headers })).toBe('fwd=uri-miss; fwd-status=200; stored; collapsed');
    expect(h.seen('/slow')).toBe(1);
  });

  test('an origin failure: the error code is the detail, fwd says why the origin was asked', async () => {
    await h.get('/down');
    await h.settle();
    clock.advance(5);
    const reply = await h.get('/down');
    expect(reply.status).toBe(502);
    expect(cacheStatusOf(reply)).toBe('fwd=stale; detail=CACHE_ERR_ORIGIN_UNREACHABLE');
  });
});

/** A GET whose response head is available before its body has ended. */
function openStream(base: string, path: string): { head: Promise<http.IncomingMessage>; body: Promise<string> } {
  let resolveBody: (text: string) => void = () => {};
  const body = new Promise<string>((resolve) => (resolveBody = resolve));
  const head = new Promise<http.IncomingMessage>((resolve, reject) => {
    http
      .get(`${base}${path}`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolveBody(text));
        resolve(res);
      })
      .on('error', reject);
  });
  return { head, body };
}
