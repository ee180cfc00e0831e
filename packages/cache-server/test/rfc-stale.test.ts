import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import type { Route } from './helpers/test-origin.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { waitFor } from './helpers/http.js';
import { cacheStatusOf, respond, sequence, startHarness, type Harness } from './helpers/rfc-harness.js';

const down: Route = (req) => req.socket.destroy();
const failing = (status: number): Route => respond({}, 'origin error', status);
/** An error page larger than a socket's buffers: it streams while the route asks chooseRoute(). */
const LARGE_ERROR = 'origin error page '.repeat(20_000);

/** Stores `path`'s first response, then moves the clock `secondsLater`. */
async function primeAndWait(
  clock: ReturnType<typeof useFakeClock>,
  target: Harness,
  path: string,
  secondsLater: number,
): Promise<void> {
  await target.get(path);
  await target.settle();
  clock.advance(secondsLater);
}

/** Serving stale responses: RFC 5861 stale-while-revalidate and stale-if-error, and --grace. */
describe('stale-while-revalidate (RFC 5861 §3)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    clock = useFakeClock();
    const swr = { 'cache-control': 'max-age=10, stale-while-revalidate=60' };
    h = await startHarness({
      '/swr': sequence(respond(swr, 'v1'), respond(swr, 'v2')),
      '/swr-held': sequence(respond(swr, 'v1'), (_req, res) => void held.push(res)),
      '/swr-window': sequence(respond(swr, 'v1'), respond(swr, 'v2')),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test('within the window: the stale response now, a refresh in the background, then the new one', async () => {
    await h.get('/swr');
    await h.settle();
    clock.advance(30);
    const stale = await h.get('/swr');
    expect(stale.body.toString()).toBe('v1');
    expect(stale.headers['x-cache']).toBe('UPDATING');
    expect(stale.headers.age).toBe('30');
    expect(cacheStatusOf(stale)).toBe('hit; ttl=-20; detail=stale-while-revalidate');
    await waitFor(() => h.seen('/swr') === 2, 'the background refresh');
    await h.settle();
    const fresh = await h.get('/swr');
    expect([fresh.headers['x-cache'], fresh.body.toString()]).toEqual(['HIT', 'v2']);
  });

  test('the background refresh happens once, however many stale requests arrive meanwhile', async () => {
    await h.get('/swr-held');
    await h.settle();
    clock.advance(30);
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await h.get('/swr-held'));
    expect(replies.map((r) => r.headers['x-cache'])).toEqual(Array(5).fill('UPDATING'));
    await waitFor(() => held.length === 1, 'the refresh to reach the origin');
    expect(h.seen('/swr-held')).toBe(2);
    const refresh = held[0] as ServerResponse;
    refresh.writeHead(200, { 'cache-control': 'max-age=10', date: httpDate(), 'content-length': 2 });
    refresh.end('v2');
    await h.settle();
    expect((await h.get('/swr-held')).body.toString()).toBe('v2');
    expect(h.seen('/swr-held')).toBe(2);
  });

  test('past the window: the client waits for the origin', async () => {
    await h.get('/swr-window');
    await h.settle();
    clock.advance(71);
    const reply = await h.get('/swr-window');
    expect([reply.headers['x-cache'], reply.body.toString()]).toEqual(['EXPIRED', 'v2']);
  });
});

describe('stale-if-error (RFC 5861 §4) and --grace', () => {
  let h: Harness;
  let graced: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    const sie = { 'cache-control': 'max-age=10, stale-if-error=60' };
    const routes = () => ({
      '/sie-503': sequence(respond(sie, 'good'), failing(503)),
      '/sie-503-head': sequence(respond(sie, 'good'), failing(503)),
      '/sie-down': sequence(respond(sie, 'good'), down),
      '/sie-expired': sequence(respond(sie, 'good'), failing(500)),
      '/sie-expired-large': sequence(respond(sie, 'good'), respond({}, LARGE_ERROR, 500)),
      '/sie-request': sequence(respond({ 'cache-control': 'max-age=10' }, 'good'), failing(502)),
      '/sie-kept': sequence(
        respond(sie, 'good'),
        respond({ 'cache-control': 'max-age=600' }, 'cacheable error', 503),
        respond(sie, 'recovered'),
      ),
      '/grace': sequence(respond({ 'cache-control': 'max-age=10' }, 'good'), failing(503)),
    });
    h = await startHarness(routes());
    graced = await startHarness(routes(), { grace: 60_000 });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
    await graced?.close();
  });

  test('the origin answers 5xx: the stale response is served instead', async () => {
    await primeAndWait(clock, h, '/sie-503', 30);
    const reply = await h.get('/sie-503');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(reply.headers.age).toBe('30');
    expect(cacheStatusOf(reply)).toBe('fwd=stale; fwd-status=503; ttl=-20; detail=origin-status-503');
  });

  test('a HEAD revalidating the stale entry gets a 5xx: the stored head is served instead', async () => {
    await primeAndWait(clock, h, '/sie-503-head', 30);
    const reply = await h.get('/sie-503-head', {}, 'HEAD');
    expect([reply.status, reply.body.length, reply.headers['x-cache']]).toEqual([200, 0, 'STALE']);
    expect(cacheStatusOf(reply)).toBe('fwd=stale; fwd-status=503; ttl=-20; detail=origin-status-503');
  });

  test('the origin is unreachable: the stale response is served instead', async () => {
    await primeAndWait(clock, h, '/sie-down', 30);
    const reply = await h.get('/sie-down');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(cacheStatusOf(reply)).toMatch(/detail=CACHE_ERR_ORIGIN_UNREACHABLE$/);
  });

  test('past the stale-if-error window the error goes to the client', async () => {
    await primeAndWait(clock, h, '/sie-expired', 71);
    const reply = await h.get('/sie-expired');
    expect([reply.status, reply.headers['x-cache'], reply.body.toString()]).toEqual([500, 'EXPIRED', 'origin error']);
  });

  test('past the window, a 5xx whose body streams is relayed whole (held while the route is chosen again)', async () => {
    await primeAndWait(clock, h, '/sie-expired-large', 71);
    const reply = await h.get('/sie-expired-large');
    expect([reply.status, reply.headers['x-cache']]).toEqual([500, 'EXPIRED']);
    expect(reply.body.toString() === LARGE_ERROR).toBe(true);
  });

  test('stale-if-error in the request works as well', async () => {
    await primeAndWait(clock, h, '/sie-request', 30);
    expect((await h.get('/sie-request')).status).toBe(502);
    const reply = await h.get('/sie-request', { 'cache-control': 'stale-if-error=60' });
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
  });

  test('a cacheable 5xx does not replace the response kept for errors', async () => {
    await primeAndWait(clock, h, '/sie-kept', 30);
    expect((await h.get('/sie-kept')).headers['x-cache']).toBe('STALE');
    await h.settle();
    const recovered = await h.get('/sie-kept');
    expect([recovered.headers['x-cache'], recovered.body.toString()]).toEqual(['EXPIRED', 'recovered']);
  });

  test('--grace serves a stale response while the origin answers 5xx, for that long past expiry', async () => {
    await primeAndWait(clock, graced, '/grace', 30);
    const reply = await graced.get('/grace');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(cacheStatusOf(reply)).toBe('fwd=stale; fwd-status=503; ttl=-20; detail=origin-status-503');
    clock.advance(60);
    expect((await graced.get('/grace')).status).toBe(503);
  });

  test('without --grace (the default) a 5xx is relayed when the response has no stale-if-error', async () => {
    await primeAndWait(clock, h, '/grace', 30);
    const reply = await h.get('/grace');
    expect([reply.status, reply.headers['x-cache']]).toEqual([503, 'EXPIRED']);
  });
});

/**
 * RFC 9111 §4.2.4: a cache that cannot reach the origin ("disconnected") may serve a stale
 * response nothing forbids serving stale, without stale-if-error; --disconnected-grace (a day by
 * default) bounds how stale. An origin that answers, even 5xx, is not disconnected.
 */
describe('disconnected origin (RFC 9111 §4.2.4) and --disconnected-grace', () => {
  let h: Harness;
  let off: Harness;
  let refused: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  const silent: Route = () => {};
  const primed = (cacheControl: string, failure: Route): Route =>
    sequence(respond({ 'cache-control': cacheControl, etag: '"v1"' }, 'good'), failure);

  beforeAll(async () => {
    clock = useFakeClock();
    const routes = () => ({
      '/dropped': primed('max-age=10', down),
      '/head': primed('max-age=10', down),
      '/timeout': primed('max-age=10', silent),
      '/answers-503': primed('max-age=10', failing(503)),
      '/must-revalidate': primed('max-age=10, must-revalidate', down),
      '/proxy-revalidate': primed('max-age=10, proxy-revalidate', down),
      '/s-maxage': primed('s-maxage=10', down),
      '/no-cache': primed('no-cache', down),
      '/targeted-must-revalidate': sequence(
        respond({ 'cache-control': 'max-age=10', 'cdn-cache-control': 'max-age=10, must-revalidate' }, 'good'),
        down,
      ),
      '/past-window': primed('max-age=10', down),
      '/off': primed('max-age=10', down),
    });
    h = await startHarness(routes(), { originTimeout: 300 });
    off = await startHarness(routes(), { disconnectedGrace: 0 });
    refused = await startHarness({ '/refused': respond({ 'cache-control': 'max-age=10' }, 'good') });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
    await off?.close();
    await refused?.close();
  });

  test.each<[string, string]>([
    ['the origin drops the connection', '/dropped'],
    ['the origin does not answer within --origin-timeout', '/timeout'],
  ])('%s: the stale response is served', async (_rule, path) => {
    await primeAndWait(clock, h, path, 30);
    const reply = await h.get(path);
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(reply.headers.age).toBe('30');
    // RFC 9211 §2.5: no fwd-status, as nothing answered.
    const code = path === '/timeout' ? 'CACHE_ERR_ORIGIN_TIMEOUT' : 'CACHE_ERR_ORIGIN_UNREACHABLE';
    expect(cacheStatusOf(reply)).toBe(`fwd=stale; ttl=-20; detail=${code}`);
  });

  test('the origin refuses connections: the stale response is served', async () => {
    await primeAndWait(clock, refused, '/refused', 30);
    await refused.origin.close();
    const reply = await refused.get('/refused');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(cacheStatusOf(reply)).toBe('fwd=stale; ttl=-20; detail=CACHE_ERR_ORIGIN_UNREACHABLE');
  });

  test("a client's HEAD revalidating a stale entry gets the stored head", async () => {
    await primeAndWait(clock, h, '/head', 30);
    const reply = await h.get('/head', {}, 'HEAD');
    expect([reply.status, reply.body.length, reply.headers['x-cache'], reply.headers.etag]).toEqual([
      200,
      0,
      'STALE',
      '"v1"',
    ]);
  });

  test('an origin that answers 5xx is not disconnected: the error is relayed', async () => {
    await primeAndWait(clock, h, '/answers-503', 30);
    const reply = await h.get('/answers-503');
    expect([reply.status, reply.headers['x-cache']]).toEqual([503, 'EXPIRED']);
  });

  test.each<[string, string]>([
    ['must-revalidate (§5.2.2.2)', '/must-revalidate'],
    ['proxy-revalidate (§5.2.2.8)', '/proxy-revalidate'],
    ['s-maxage (§5.2.2.10)', '/s-maxage'],
    ['no-cache (§5.2.2.4)', '/no-cache'],
    ['must-revalidate in the targeted field (RFC 9213)', '/targeted-must-revalidate'],
  ])('%s forbids it: 502', async (_rule, path) => {
    await primeAndWait(clock, h, path, 30);
    const reply = await h.get(path);
    expect([reply.status, reply.headers['x-cache-error']]).toEqual([502, 'CACHE_ERR_ORIGIN_UNREACHABLE']);
  });

  test('more than a day past expiry (the default --disconnected-grace): 502', async () => {
    await primeAndWait(clock, h, '/past-window', 10 + 86_400);
    expect((await h.get('/past-window')).headers['x-cache']).toBe('STALE');
    clock.advance(1);
    expect((await h.get('/past-window')).status).toBe(502);
  });

  test('--disconnected-grace 0 turns it off', async () => {
    await primeAndWait(clock, off, '/off', 30);
    expect((await off.get('/off')).status).toBe(502);
  });
});
