import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { httpDate, useFakeClock } from './helpers/clock.js';
import {
  expectReuse,
  respond,
  reuseRoutes,
  sequence,
  startHarness,
  validating,
  type Harness,
  type ReuseRow,
} from './helpers/rfc-harness.js';

/**
 * Surrogate-Control (W3C Edge Architecture 1.0) through real requests: each row is one resource,
 * fetched once, then asked for again after the clock moved; the second answer is a HIT or goes
 * to the origin. Precedence: CDN-Cache-Control (RFC 9213) > Surrogate-Control > Cache-Control /
 * Expires.
 */
type Row = ReuseRow;

const ahead = (now: number, seconds: number) => httpDate(now + seconds * 1000);

const ROWS: Row[] = [
  // Directives
  ['max-age: fresh within it', { 'surrogate-control': 'max-age=60' }, 30, 'HIT'],
  ['max-age: stale after it', { 'surrogate-control': 'max-age=60' }, 61, 'origin'],
  ['max-age=0: stale at once', { 'surrogate-control': 'max-age=0', 'cache-control': 'max-age=600' }, 1, 'origin'],
  ['no-store: not stored', { 'surrogate-control': 'no-store' }, 1, 'origin'],
  ['max-age=X+Y: X is the lifetime', { 'surrogate-control': 'max-age=60+600' }, 61, 'origin'],
  ['no-store-remote: this local surrogate stores', { 'surrogate-control': 'no-store-remote, max-age=60' }, 30, 'HIT'],
  // Targets
  ['targeted at this cache', { 'surrogate-control': 'max-age=60;simple-cache' }, 30, 'HIT'],
  [
    'targeted at another surrogate: Cache-Control decides',
    { 'surrogate-control': 'max-age=60;abc', 'cache-control': 'no-store' },
    1,
    'origin',
  ],
  [
    'no-store targeted at us beats a generic max-age',
    { 'surrogate-control': 'max-age=60, no-store;simple-cache' },
    1,
    'origin',
  ],
  ['no-store targeted at another: the generic max-age', { 'surrogate-control': 'max-age=60, no-store;abc' }, 30, 'HIT'],
  // Precedence
  [
    'Surrogate-Control max-age beats Cache-Control no-store',
    { 'surrogate-control': 'max-age=600', 'cache-control': 'no-store' },
    30,
    'HIT',
  ],
  [
    'Surrogate-Control no-store beats a fresh Cache-Control',
    { 'surrogate-control': 'no-store', 'cache-control': 'max-age=600' },
    1,
    'origin',
  ],
  [
    'a shorter Surrogate-Control max-age beats Cache-Control',
    { 'surrogate-control': 'max-age=10', 'cache-control': 'max-age=600' },
    20,
    'origin',
  ],
  [
    'Surrogate-Control beats Expires',
    (now) => ({ 'surrogate-control': 'max-age=10', expires: ahead(now, 600) }),
    20,
    'origin',
  ],
  [
    'CDN-Cache-Control beats Surrogate-Control (no-store)',
    { 'cdn-cache-control': 'no-store', 'surrogate-control': 'max-age=600' },
    1,
    'origin',
  ],
  [
    'CDN-Cache-Control beats Surrogate-Control (max-age)',
    { 'cdn-cache-control': 'max-age=600', 'surrogate-control': 'no-store' },
    30,
    'HIT',
  ],
  // Age and invalid values
  ['an Age counts against it', { 'surrogate-control': 'max-age=600', age: '700' }, 1, 'origin'],
  [
    'an invalid max-age is ignored: Cache-Control decides',
    { 'surrogate-control': 'max-age=abc', 'cache-control': 'no-store' },
    1,
    'origin',
  ],
  [
    'an invalid max-age is ignored: Cache-Control max-age applies',
    { 'surrogate-control': 'max-age=-5', 'cache-control': 'max-age=600' },
    30,
    'HIT',
  ],
];

describe('Surrogate-Control (W3C Edge Architecture 1.0)', () => {
  let h: Harness;
  let named: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      ...reuseRoutes(ROWS, '/s'),
      '/stripped': respond({ 'surrogate-control': 'max-age=600', 'cache-control': 'max-age=5' }),
      '/post': respond({ 'surrogate-control': 'max-age=600' }),
      '/revalidated': validating({ 'surrogate-control': 'max-age=10', etag: '"r"' }),
      '/extension': sequence(respond({ 'surrogate-control': 'max-age=10+60' }, 'good'), respond({}, 'down', 503)),
      '/capability': respond({ 'cache-control': 'max-age=5' }),
    });
    named = await startHarness(
      { '/named': respond({ 'surrogate-control': 'max-age=600;edge-1, no-store' }) },
      { name: 'edge-1' },
    );
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
    await named?.close();
  });

  test.each(ROWS.map((row, i) => [...row, i] as const))('%s', (_rule, _headers, secondsLater, expected, i) =>
    expectReuse(h, clock, `/s${i}`, secondsLater, expected),
  );

  test('never reaches clients: not on a miss, a hit, a revalidation or a pass-through', async () => {
    const miss = await h.get('/stripped');
    await h.settle();
    const hit = await h.get('/stripped');
    await h.get('/revalidated');
    await h.settle();
    clock.advance(20);
    const revalidated = await h.get('/revalidated');
    const passed = await h.get('/post', {}, 'POST');
    expect([miss, hit, revalidated, passed].map((reply) => reply.headers['x-cache'])).toEqual([
      'MISS',
      'HIT',
      'REVALIDATED',
      'BYPASS',
    ]);
    for (const reply of [miss, hit, revalidated, passed]) expect(reply.headers['surrogate-control']).toBeUndefined();
    expect(hit.headers['cache-control']).toBe('max-age=5');
  });

  test('max-age=X+Y: the stale response answers a failing origin for Y seconds', async () => {
    await h.get('/extension');
    await h.settle();
    clock.advance(40);
    const reply = await h.get('/extension');
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([200, 'good', 'STALE']);
    clock.advance(40);
    expect((await h.get('/extension')).status).toBe(503);
  });

  test('Surrogate-Capability announces this cache to the origin; a client cannot set its own', async () => {
    await h.get('/capability', { 'surrogate-capability': 'evil="Surrogate/1.0 ESI/1.0"' });
    expect(h.origin.requests.at(-1)?.headers['surrogate-capability']).toBe('simple-cache="Surrogate/1.0"');
  });

  test('--name is the device token: announced, and the members targeted at it apply', async () => {
    await named.get('/named');
    expect(named.origin.requests.at(-1)?.headers['surrogate-capability']).toBe('edge-1="Surrogate/1.0"');
    await named.settle();
    clock.advance(30);
    expect((await named.get('/named')).headers['x-cache']).toBe('HIT');
  });
});
