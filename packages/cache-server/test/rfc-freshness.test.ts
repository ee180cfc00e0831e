import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { expectReuse, respond, reuseRoutes, startHarness, type Harness, type ReuseRow } from './helpers/rfc-harness.js';

/**
 * Freshness through real requests (RFC 9111 §4.2): each row is one resource, fetched once, then
 * asked for again after the clock moved; the second answer is a HIT or goes to the origin.
 */
type Row = ReuseRow;

const DAY = 86_400;
const ago = (now: number, seconds: number) => httpDate(now - seconds * 1000);
const ahead = (now: number, seconds: number) => httpDate(now + seconds * 1000);

const ROWS: Row[] = [
  // §4.2.1 precedence: s-maxage (shared cache) > max-age > Expires
  ['s-maxage beats a longer max-age (§5.2.2.10)', { 'cache-control': 'max-age=100, s-maxage=10' }, 20, 'origin'],
  ['s-maxage beats a shorter max-age', { 'cache-control': 'max-age=1, s-maxage=100' }, 20, 'HIT'],
  [
    'max-age beats a past Expires (§5.3)',
    (now) => ({ 'cache-control': 'max-age=100', expires: ago(now, 60) }),
    20,
    'HIT',
  ],
  [
    'max-age=0 beats a future Expires',
    (now) => ({ 'cache-control': 'max-age=0', expires: ahead(now, 600) }),
    1,
    'origin',
  ],
  ['Expires − Date: fresh before', (now) => ({ expires: ahead(now, 30) }), 20, 'HIT'],
  ['Expires − Date: stale after', (now) => ({ expires: ahead(now, 30) }), 40, 'origin'],
  [
    'Expires measured from Date, not from arrival',
    (now) => ({ date: ago(now, 20), expires: ahead(now, 10) }),
    15,
    'origin',
  ],
  ['an invalid Expires ("0") means already expired (§5.3)', { expires: '0' }, 1, 'origin'],
  ['Expires with a UTC zone is invalid', (now) => ({ expires: ahead(now, 600).replace('GMT', 'UTC') }), 1, 'origin'],
  ['Expires with wrong-case month still parses', (now) => ({ expires: ahead(now, 600).toUpperCase() }), 20, 'HIT'],
  // §4.2.3 current age
  ['Age counts against max-age', { 'cache-control': 'max-age=100', age: '90' }, 5, 'HIT'],
  ['Age counts against max-age (stale)', { 'cache-control': 'max-age=100', age: '90' }, 20, 'origin'],
  ['Age larger than max-age: stale on arrival', { 'cache-control': 'max-age=10', age: '15' }, 0, 'origin'],
  ['an old Date adds apparent age', (now) => ({ date: ago(now, 50), 'cache-control': 'max-age=60' }), 20, 'origin'],
  ['a Date in the future adds nothing', (now) => ({ date: ahead(now, 500), 'cache-control': 'max-age=60' }), 20, 'HIT'],
  // Every Age form with max-age=3600, asked for again a second later. Anything but one
  // non-negative integer is distrusted (issue 13, stricter than §5.1): stale, so validated.
  ['a non-numeric Age: stale', { 'cache-control': 'max-age=3600', age: 'abc' }, 1, 'origin'],
  ['Age -7200 is not a number: stale', { 'cache-control': 'max-age=3600', age: '-7200' }, 1, 'origin'],
  ['Age 7200.0 is not an integer: stale', { 'cache-control': 'max-age=3600', age: '7200.0' }, 1, 'origin'],
  ['Age "7200, 0" is a list: stale', { 'cache-control': 'max-age=3600', age: '7200, 0' }, 1, 'origin'],
  ['Age "0, 7200" is a list: stale', { 'cache-control': 'max-age=3600', age: '0, 7200' }, 1, 'origin'],
  ['two Age lines, 7200 then 0: stale', { 'cache-control': 'max-age=3600', age: ['7200', '0'] }, 1, 'origin'],
  ['two Age lines, 0 then 7200: stale', { 'cache-control': 'max-age=3600', age: ['0', '7200'] }, 1, 'origin'],
  ['two Age lines that agree: one Age', { 'cache-control': 'max-age=3600', age: ['0', '0'] }, 1, 'HIT'],
  ['Age with a parameter: stale (§4.2.3)', { 'cache-control': 'max-age=3600', age: '7200;foo=bar' }, 1, 'origin'],
  ['a small Age with a parameter: still stale', { 'cache-control': 'max-age=3600', age: '1;foo=bar' }, 1, 'origin'],
  ['Age with a unit: stale', { 'cache-control': 'max-age=3600', age: '7200 seconds' }, 1, 'origin'],
  ['one valid Age keeps counting', { 'cache-control': 'max-age=3600', age: '3000' }, 1, 'HIT'],
  // §4.2.2 heuristic freshness: 10 % of (Date − Last-Modified), capped by --heuristic-max-age (1d)
  ['heuristic: 10% of the time since Last-Modified (fresh)', (now) => ({ 'last-modified': ago(now, 1000) }), 50, 'HIT'],
  [
    'heuristic: 10% of the time since Last-Modified (stale)',
    (now) => ({ 'last-modified': ago(now, 1000) }),
    150,
    'origin',
  ],
  [
    'heuristic capped at 1 day (10% would be 10 days)',
    (now) => ({ 'last-modified': ago(now, 100 * DAY) }),
    DAY + 60,
    'origin',
  ],
  ['heuristic below the cap', (now) => ({ 'last-modified': ago(now, 100 * DAY) }), DAY - 60, 'HIT'],
  [
    'explicit freshness wins over the heuristic',
    (now) => ({ 'cache-control': 'max-age=5', 'last-modified': ago(now, 1000) }),
    50,
    'origin',
  ],
  ['no lifetime and no Last-Modified: never reused', {}, 0, 'origin'],
  // §1.2.2 / §5.2 directive parsing
  ['quoted max-age="100" (§5.2)', { 'cache-control': 'max-age="100"' }, 20, 'HIT'],
  ['MaX-AgE is case-insensitive', { 'cache-control': 'MaX-AgE=100' }, 20, 'HIT'],
  ['leading zeros: max-age=0100', { 'cache-control': 'max-age=0100' }, 20, 'HIT'],
  ['negative max-age is invalid: stale (§4.2.1)', { 'cache-control': 'max-age=-100' }, 1, 'origin'],
  ['max-age=100a is invalid: stale', { 'cache-control': 'max-age=100a' }, 1, 'origin'],
  ["single-quoted max-age='100' is invalid: stale", { 'cache-control': "max-age='100'" }, 1, 'origin'],
  ['"max-age =100" has no valid name: not a lifetime', { 'cache-control': 'max-age =100' }, 1, 'origin'],
  [
    '"max-age" inside a quoted extension is not a directive',
    { 'cache-control': 'ext="max-age=100", max-age=1' },
    20,
    'origin',
  ],
  ['max-age=2147483648 (2^31)', { 'cache-control': 'max-age=2147483648' }, 365 * DAY, 'HIT'],
  ['max-age overflow is 2^31, not stale (§1.2.2)', { 'cache-control': 'max-age=99999999999' }, 365 * DAY, 'HIT'],
  ['duplicate max-age with one value is fine', { 'cache-control': 'max-age=100, max-age=100' }, 20, 'HIT'],
  ['conflicting max-age values: stale (§4.2.1)', { 'cache-control': 'max-age=1000, max-age=10' }, 20, 'origin'],
  ['directives over several lines combine', { 'cache-control': ['public', 'max-age=100'] }, 20, 'HIT'],
];

describe('freshness and age through the proxy (RFC 9111 §4.2)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness(reuseRoutes(ROWS, '/f'));
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test.each(ROWS.map((row, i) => [...row, i] as const))('%s', (_rule, _headers, secondsLater, expected, i) =>
    expectReuse(h, clock, `/f${i}`, secondsLater, expected),
  );
});

describe('--heuristics off and --heuristic-max-age', () => {
  let off: Harness;
  let capped: Harness;
  let clock: ReturnType<typeof useFakeClock>;
  const lastModified = respond((now) => ({ 'last-modified': ago(now, 1000) }));

  beforeAll(async () => {
    clock = useFakeClock();
    off = await startHarness({ '/lm': lastModified }, { heuristics: false });
    capped = await startHarness({ '/lm': lastModified }, { heuristicMaxAge: 60_000 });
  });
  afterAll(async () => {
    clock?.restore();
    await off?.close();
    await capped?.close();
  });

  test('with heuristics off, Last-Modified alone gives no freshness: revalidated every time', async () => {
    await off.get('/lm');
    await off.settle();
    clock.advance(1);
    const again = await off.get('/lm');
    expect(again.headers['x-cache']).toBe('EXPIRED');
    expect(off.origin.requests.at(-1)?.headers['if-modified-since']).toBeDefined();
  });

  test('--heuristic-max-age caps the heuristic lifetime (10% of 1000 s is 100 s, cap 60 s)', async () => {
    await capped.get('/lm');
    await capped.settle();
    clock.advance(50);
    expect((await capped.get('/lm')).headers['x-cache']).toBe('HIT');
    clock.advance(20);
    expect((await capped.get('/lm')).headers['x-cache']).not.toBe('HIT');
    expect(capped.seen('/lm')).toBe(2);
  });
});
