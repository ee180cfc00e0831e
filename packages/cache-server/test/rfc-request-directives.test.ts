import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

/**
 * Request Cache-Control directives (RFC 9111 §5.2.1). Every resource is `max-age=100` with an
 * ETag; the origin answers a matching If-None-Match with 304.
 */
describe('request directives (RFC 9111 §5.2.1)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  let n = 0;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '*': validating({ 'cache-control': 'max-age=100', etag: '"e"' }),
      '/plain': respond({ 'cache-control': 'max-age=100' }),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  /** A new resource, stored and then `age` seconds old. */
  async function storedAged(age: number): Promise<string> {
    const path = `/r${n++}`;
    await h.get(path);
    await h.settle();
    clock.advance(age);
    return path;
  }

  type Row = [rule: string, age: number, cacheControl: string, xCache: string, cacheStatus: RegExp];
  test.each<Row>([
    [
      'max-age: the entry is older than the client accepts (§5.2.1.1)',
      30,
      'max-age=10',
      'REVALIDATED',
      /^fwd=request; fwd-status=304/,
    ],
    ['max-age: young enough', 30, 'max-age=60', 'HIT', /^hit; ttl=70$/],
    ['max-age=0 (a reload) validates a fresh entry', 1, 'max-age=0', 'REVALIDATED', /^fwd=request/],
    ['no-cache validates a fresh entry (§5.2.1.4)', 1, 'no-cache', 'REVALIDATED', /^fwd=request/],
    ['no-cache on a stale entry: fwd=stale', 200, 'no-cache', 'REVALIDATED', /^fwd=stale/],
    [
      'max-stale without a value takes any staleness (§5.2.1.2)',
      500,
      'max-stale',
      'HIT',
      /^hit; ttl=-400; detail=max-stale$/,
    ],
    ['max-stale=30 takes 20 s of staleness', 120, 'max-stale=30', 'HIT', /^hit; ttl=-20; detail=max-stale$/],
    ['max-stale=10 does not take 20 s', 120, 'max-stale=10', 'REVALIDATED', /^fwd=stale/],
    ['max-stale=-1 is invalid: nothing stale accepted', 120, 'max-stale=-1', 'REVALIDATED', /^fwd=stale/],
    ['min-fresh: not fresh enough for the client (§5.2.1.3)', 50, 'min-fresh=60', 'REVALIDATED', /^fwd=request/],
    ['min-fresh: fresh enough', 50, 'min-fresh=10', 'HIT', /^hit; ttl=50$/],
    ['no-store does not stop a stored response from being used (§5.2.1.5)', 1, 'no-store', 'HIT', /^hit/],
  ])('%s', async (_rule, age, cacheControl, xCache, cacheStatus) => {
    const path = await storedAged(age);
    const reply = await h.get(path, { 'cache-control': cacheControl });
    expect(reply.headers['x-cache']).toBe(xCache);
    expect(cacheStatusOf(reply)).toMatch(cacheStatus);
    if (xCache === 'REVALIDATED') expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBe('"e"');
  });

  test('no-store on a miss: the response is not stored (§5.2.1.5)', async () => {
    const path = `/r${n++}`;
    const first = await h.get(path, { 'cache-control': 'no-store' });
    expect(cacheStatusOf(first)).toMatch(/detail=request-no-store/);
    await h.settle();
    expect((await h.get(path)).headers['x-cache']).toBe('MISS');
    expect(h.seen(path)).toBe(2);
  });

  test('no-store on a revalidation: the 304 does not update the stored response', async () => {
    const path = await storedAged(200);
    const validated = await h.get(path, { 'cache-control': 'no-store' });
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
    expect(cacheStatusOf(validated)).not.toMatch(/stored/);
    // Still stale: the next request revalidates again.
    expect((await h.get(path)).headers['x-cache']).toBe('REVALIDATED');
  });

  test('no-store on a HEAD that revalidates: its answer does not update the stored response either', async () => {
    const path = await storedAged(200);
    const validated = await h.get(path, { 'cache-control': 'no-store' }, 'HEAD');
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
    expect(h.origin.requests.at(-1)?.method).toBe('HEAD');
    expect(cacheStatusOf(validated)).not.toMatch(/stored/);
    // Still stale: the same HEAD without no-store revalidates again, and freshens it.
    expect((await h.get(path, {}, 'HEAD')).headers['x-cache']).toBe('REVALIDATED');
    await h.settle();
    expect((await h.get(path)).headers['x-cache']).toBe('HIT');
  });

  test('only-if-cached with nothing stored: 504, the origin never asked (§5.2.1.7)', async () => {
    const reply = await h.get('/never-stored', { 'cache-control': 'only-if-cached' });
    expect(reply.status).toBe(504);
    expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ONLY_IF_CACHED');
    expect(cacheStatusOf(reply)).toBe('detail=CACHE_ERR_ONLY_IF_CACHED');
    expect(h.seen('/never-stored')).toBe(0);
  });

  test('only-if-cached: a fresh entry is served, a stale one is not (504) unless max-stale allows', async () => {
    const path = await storedAged(50);
    expect((await h.get(path, { 'cache-control': 'only-if-cached' })).headers['x-cache']).toBe('HIT');
    clock.advance(100);
    expect((await h.get(path, { 'cache-control': 'only-if-cached' })).status).toBe(504);
    const stale = await h.get(path, { 'cache-control': 'only-if-cached, max-stale' });
    expect(stale.headers['x-cache']).toBe('HIT');
    expect(h.seen(path)).toBe(1);
  });

  test('several Cache-Control lines in a request combine', async () => {
    const path = await storedAged(30);
    const reply = await h.get(path, { 'cache-control': ['foo', 'max-age=10'] });
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    expect((await h.get('/plain')).headers['x-cache']).toBe('MISS');
  });
});
