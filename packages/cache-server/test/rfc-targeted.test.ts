import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { httpDate, useFakeClock } from './helpers/clock.js';
import {
  cacheStatusOf,
  expectReuse,
  respond,
  reuseRoutes,
  startHarness,
  validating,
  type Harness,
  type ReuseRow,
} from './helpers/rfc-harness.js';

/** Targeted Cache-Control (RFC 9213): CDN-Cache-Control, or the field named by --targeted-field. */
type Row = ReuseRow;

const ROWS: Row[] = [
  [
    'CDN-Cache-Control max-age beats Cache-Control no-store (§2.1)',
    { 'cdn-cache-control': 'max-age=600', 'cache-control': 'no-store' },
    20,
    'HIT',
  ],
  [
    'CDN-Cache-Control no-store beats Cache-Control max-age',
    { 'cdn-cache-control': 'no-store', 'cache-control': 'max-age=600' },
    1,
    'origin',
  ],
  [
    'a shorter CDN-Cache-Control max-age wins',
    { 'cdn-cache-control': 'max-age=10', 'cache-control': 'max-age=600' },
    20,
    'origin',
  ],
  [
    'a longer CDN-Cache-Control max-age wins',
    { 'cdn-cache-control': 'max-age=600', 'cache-control': 'max-age=1' },
    20,
    'HIT',
  ],
  [
    'CDN-Cache-Control private: not stored',
    { 'cdn-cache-control': 'private', 'cache-control': 'max-age=600' },
    1,
    'origin',
  ],
  [
    'Expires is ignored when CDN-Cache-Control applies',
    (now) => ({ 'cdn-cache-control': 'max-age=10', expires: httpDate(now + 3_600_000) }),
    20,
    'origin',
  ],
  [
    'an invalid field (not a Dictionary) is ignored: Cache-Control applies (§2.2)',
    { 'cdn-cache-control': 'max-age=600, &&&', 'cache-control': 'no-store' },
    1,
    'origin',
  ],
  [
    'a wrongly typed max-age ("600") is ignored',
    { 'cdn-cache-control': 'max-age="600"', 'cache-control': 'no-store' },
    1,
    'origin',
  ],
  ['CDN-Cache-Control overflow max-age is 2^31', { 'cdn-cache-control': 'max-age=99999999999' }, 365 * 86_400, 'HIT'],
  ['Age counts against CDN-Cache-Control max-age', { 'cdn-cache-control': 'max-age=600', age: '700' }, 1, 'origin'],
];

describe('CDN-Cache-Control (RFC 9213)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      ...reuseRoutes(ROWS, '/t'),
      '/forwarded': respond({ 'cdn-cache-control': 'max-age=600' }),
      '/no-cache': validating({ 'cdn-cache-control': 'no-cache', 'cache-control': 'max-age=600', etag: '"c"' }),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test.each(ROWS.map((row, i) => [...row, i] as const))('%s', (_rule, _headers, secondsLater, expected, i) =>
    expectReuse(h, clock, `/t${i}`, secondsLater, expected),
  );

  test('CDN-Cache-Control no-cache: validated on every use despite Cache-Control max-age', async () => {
    await h.get('/no-cache');
    await h.settle();
    expect((await h.get('/no-cache')).headers['x-cache']).toBe('REVALIDATED');
  });

  test('the field is forwarded to clients by default, on a miss and on a hit (RFC 9213 §3)', async () => {
    const miss = await h.get('/forwarded');
    await h.settle();
    const hit = await h.get('/forwarded');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect([miss.headers['cdn-cache-control'], hit.headers['cdn-cache-control']]).toEqual([
      'max-age=600',
      'max-age=600',
    ]);
  });
});

describe('--targeted-field and --strip-targeted-field', () => {
  let acme: Harness;
  let strip: Harness;
  const headers = { 'acme-cache-control': 'max-age=600', 'cdn-cache-control': 'no-store', 'cache-control': 'no-store' };

  beforeAll(async () => {
    acme = await startHarness({ '/x': respond(headers) }, { targetedField: 'acme-cache-control' });
    strip = await startHarness(
      { '/x': respond({ 'cdn-cache-control': 'max-age=600', 'cache-control': 'max-age=1' }) },
      { stripTargetedField: true },
    );
  });
  afterAll(async () => {
    await acme?.close();
    await strip?.close();
  });

  test('another field name: that field governs and CDN-Cache-Control is just a header', async () => {
    const miss = await acme.get('/x');
    expect(cacheStatusOf(miss)).toMatch(/stored/);
    await acme.settle();
    expect((await acme.get('/x')).headers['x-cache']).toBe('HIT');
  });

  test('with --strip-targeted-field on, clients never see the field (RFC 9213 §3 MAY remove)', async () => {
    const miss = await strip.get('/x');
    await strip.settle();
    const hit = await strip.get('/x');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(miss.headers['cdn-cache-control']).toBeUndefined();
    expect(hit.headers['cdn-cache-control']).toBeUndefined();
    expect(hit.headers['cache-control']).toBe('max-age=1');
  });
});
