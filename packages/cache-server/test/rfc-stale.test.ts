import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import type { Route } from './helpers/test-origin.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { waitFor } from './helpers/http.js';
import { cacheStatusOf, respond, sequence, startHarness, type Harness } from './helpers/rfc-harness.js';

const down: Route = (req) => req.socket.destroy();
const failing = (status: number): Route => respond({}, 'origin error', status);

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
      '/sie-down': sequence(respond(sie, 'good'), down),
      '/sie-expired': sequence(respond(sie, 'good'), failing(500)),
      '/sie-request': sequence(respond({ 'cache-control': 'max-age=10' }, 'good'), failing(502)),
      '/sie-kept': sequence(
        respond(sie, 'good'),
        respond({ 'cache-control': 'max-age=600' }, 'cacheable error', 503),
        respond(sie, 'recovered'),
      ),
      '/grace': sequence(respond({ 'cache-control': 'max-age=10' }, 'good'), down),
    });
    h = await startHarness(routes());
    graced = await startHarness(routes(), { grace: 60_000 });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
    await graced?.close();
  });

  async function prime(target: Harness, path: string, secondsLater: number): Promise<void> {
    await target.get(path);
    await target.settle();
    clock.advance(secondsLater);
  }

  test('the origin answers 5xx: the stale response is served instead', async () => {
    await prime(h, '/sie-503', 30);
    const reply = await h.get('/sie-503');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(reply.headers.age).toBe('30');
    expect(cacheStatusOf(reply)).toBe('fwd=stale; fwd-status=503; ttl=-20; detail=origin-status-503');
  });

  test('the origin is unreachable: the stale response is served instead', async () => {
    await prime(h, '/sie-down', 30);
    const reply = await h.get('/sie-down');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    expect(cacheStatusOf(reply)).toMatch(/detail=CACHE_ERR_ORIGIN_UNREACHABLE$/);
  });

  test('past the stale-if-error window the error goes to the client', async () => {
    await prime(h, '/sie-expired', 71);
    const reply = await h.get('/sie-expired');
    expect([reply.status, reply.headers['x-cache']]).toEqual([500, 'EXPIRED']);
  });

  test('stale-if-error in the request works as well', async () => {
    await prime(h, '/sie-request', 30);
    expect((await h.get('/sie-request')).status).toBe(502);
    const reply = await h.get('/sie-request', { 'cache-control': 'stale-if-error=60' });
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
  });

  test('a cacheable 5xx does not replace the response kept for errors', async () => {
    await prime(h, '/sie-kept', 30);
    expect((await h.get('/sie-kept')).headers['x-cache']).toBe('STALE');
    await h.settle();
    const recovered = await h.get('/sie-kept');
    expect([recovered.headers['x-cache'], recovered.body.toString()]).toEqual(['EXPIRED', 'recovered']);
  });

  test('--grace serves a stale response while the origin is down, for that long past expiry', async () => {
    await prime(graced, '/grace', 30);
    const reply = await graced.get('/grace');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    clock.advance(60);
    expect((await graced.get('/grace')).status).toBe(502);
  });

  test('without --grace (the default) a response without stale-if-error is not served stale', async () => {
    await prime(h, '/grace', 30);
    expect((await h.get('/grace')).status).toBe(502);
  });
});
