import { describe, expect, test } from '@jest/globals';
import {
  ageFieldSeconds,
  currentAge,
  exactAge,
  freshnessLifetime,
  isFresh,
  readAgeField,
} from '../../src/policy/freshness.js';
import { parseHttpDate } from '../../src/policy/http-date.js';
import type { Freshness, HeaderMap, PolicyOptions } from '../../src/policy/types.js';
import { at, entry, httpDate, options, T0 } from './fixtures.js';

const DAY = 86_400;

describe('freshnessLifetime (RFC 9111 §4.2.1)', () => {
  test.each<[string, HeaderMap, Freshness]>([
    ['max-age', { 'cache-control': 'max-age=60' }, { lifetime: 60, source: 'max-age' }],
    ['quoted max-age (§5.2)', { 'cache-control': 'max-age="60"' }, { lifetime: 60, source: 'max-age' }],
    [
      's-maxage beats a longer max-age (shared cache, §5.2.2.10)',
      { 'cache-control': 'max-age=3600, s-maxage=1' },
      { lifetime: 1, source: 's-maxage' },
    ],
    [
      's-maxage beats a shorter max-age',
      { 'cache-control': 'max-age=1, s-maxage=3600' },
      { lifetime: 3600, source: 's-maxage' },
    ],
    [
      's-maxage on another field line',
      { 'cache-control': ['max-age=3600', 's-maxage=1'] },
      { lifetime: 1, source: 's-maxage' },
    ],
    [
      'max-age beats a future Expires (§5.3)',
      { 'cache-control': 'max-age=0', expires: httpDate(10_000) },
      { lifetime: 0, source: 'max-age' },
    ],
    [
      'max-age beats a past Expires (§5.3)',
      { 'cache-control': 'max-age=3600', expires: httpDate(-10_000) },
      { lifetime: 3600, source: 'max-age' },
    ],
    [
      'max-age beats an invalid Expires',
      { 'cache-control': 'max-age=3600', expires: '0' },
      { lifetime: 3600, source: 'max-age' },
    ],
    [
      'max-age overflow → 2^31 (§1.2.2)',
      { 'cache-control': 'max-age=99999999999' },
      { lifetime: 2_147_483_648, source: 'max-age' },
    ],
    [
      'negative max-age → stale (§4.2.1 invalid)',
      { 'cache-control': 'max-age=-100' },
      { lifetime: 0, source: 'max-age' },
    ],
    [
      'non-numeric max-age → stale (§4.2.1 invalid)',
      { 'cache-control': 'max-age=a100' },
      { lifetime: 0, source: 'max-age' },
    ],
    ['trailing alpha max-age → stale', { 'cache-control': 'max-age=100a' }, { lifetime: 0, source: 'max-age' }],
    [
      'invalid max-age does not fall back to Expires',
      { 'cache-control': 'max-age=abc', expires: httpDate(3600) },
      { lifetime: 0, source: 'max-age' },
    ],
    [
      'conflicting max-age duplicates → stale (§4.2.1)',
      { 'cache-control': 'max-age=1800, max-age=1' },
      { lifetime: 0, source: 'max-age' },
    ],
    [
      'conflicting s-maxage duplicates → stale',
      { 'cache-control': ['s-maxage=5', 's-maxage=6'] },
      { lifetime: 0, source: 's-maxage' },
    ],
    [
      'identical duplicates are fine',
      { 'cache-control': 'max-age=60, max-age=60' },
      { lifetime: 60, source: 'max-age' },
    ],
    [
      'max-age inside a quoted string is ignored',
      { 'cache-control': 'ext="max-age=100", max-age=1' },
      { lifetime: 1, source: 'max-age' },
    ],
    ['Expires − Date', { expires: httpDate(3600) }, { lifetime: 3600, source: 'expires' }],
    ['past Expires → 0', { expires: httpDate(-3600) }, { lifetime: 0, source: 'expires' }],
    ['Expires equal to Date → 0', { expires: httpDate(0) }, { lifetime: 0, source: 'expires' }],
    [
      'Expires older than Date → 0',
      { date: httpDate(400), expires: httpDate(300) },
      { lifetime: 0, source: 'expires' },
    ],
    ['invalid Expires "0" → already expired (§5.3)', { expires: '0' }, { lifetime: 0, source: 'expires' }],
    [
      'invalid Expires (UTC) → already expired',
      { expires: 'Thu, 18 Aug 2050 02:01:18 UTC' },
      { lifetime: 0, source: 'expires' },
    ],
    [
      'Expires without Date uses the response time',
      { date: undefined, expires: httpDate(90) },
      { lifetime: 90, source: 'expires' },
    ],
    [
      'Expires with an invalid Date uses the response time',
      { date: 'foo', expires: httpDate(10) },
      { lifetime: 10, source: 'expires' },
    ],
    [
      'only the first Expires line counts',
      { expires: [httpDate(60), httpDate(9000)] },
      { lifetime: 60, source: 'expires' },
    ],
    ['Expires with a slow Date', { date: httpDate(-10), expires: httpDate(10) }, { lifetime: 20, source: 'expires' }],
    [
      'heuristic: 10 % of Date − Last-Modified (§4.2.2)',
      { 'last-modified': httpDate(-1000) },
      { lifetime: 100, source: 'heuristic' },
    ],
    [
      'heuristic capped by heuristicMaxAge',
      { 'last-modified': httpDate(-100 * DAY) },
      { lifetime: DAY, source: 'heuristic' },
    ],
    ['heuristic rounds down', { 'last-modified': httpDate(-5) }, { lifetime: 0, source: 'heuristic' }],
    [
      'heuristic with Last-Modified after Date → 0',
      { 'last-modified': httpDate(100) },
      { lifetime: 0, source: 'heuristic' },
    ],
    ['heuristic needs Last-Modified', {}, { lifetime: 0, source: 'none' }],
    ['invalid Last-Modified → no heuristic', { 'last-modified': 'yesterday' }, { lifetime: 0, source: 'none' }],
    [
      'Pragma: no-cache in a response changes nothing (§5.4)',
      { 'cache-control': 'max-age=60', pragma: 'no-cache' },
      { lifetime: 60, source: 'max-age' },
    ],
  ])('%s', (_rule, headers, expected) => {
    expect(freshnessLifetime(entry(headers), options())).toEqual(expected);
  });

  test.each<[string, number, HeaderMap, Partial<PolicyOptions>, Freshness]>([
    [
      'heuristics off → 0',
      200,
      { 'last-modified': httpDate(-1000) },
      { heuristics: false },
      { lifetime: 0, source: 'none' },
    ],
    [
      'other fraction',
      200,
      { 'last-modified': httpDate(-1000) },
      { heuristicFraction: 0.5 },
      { lifetime: 500, source: 'heuristic' },
    ],
    [
      'other cap',
      200,
      { 'last-modified': httpDate(-1000) },
      { heuristicMaxAge: 30 },
      { lifetime: 30, source: 'heuristic' },
    ],
    ...[203, 204, 300, 301, 308, 404, 405, 410, 414, 501].map(
      (status): [string, number, HeaderMap, Partial<PolicyOptions>, Freshness] => [
        `heuristically cacheable ${status} (RFC 9110 §15.1)`,
        status,
        { 'last-modified': httpDate(-1000) },
        {},
        { lifetime: 100, source: 'heuristic' },
      ],
    ),
    ...[201, 202, 302, 403, 500, 502, 503, 504, 599].map(
      (status): [string, number, HeaderMap, Partial<PolicyOptions>, Freshness] => [
        `no heuristic for ${status}`,
        status,
        { 'last-modified': httpDate(-1000) },
        {},
        { lifetime: 0, source: 'none' },
      ],
    ),
    [
      'public makes any status heuristically cacheable (§5.2.2.9)',
      599,
      { 'cache-control': 'public', 'last-modified': httpDate(-1000) },
      {},
      { lifetime: 100, source: 'heuristic' },
    ],
    [
      'explicit freshness works for any status',
      503,
      { 'cache-control': 'max-age=5' },
      {},
      { lifetime: 5, source: 'max-age' },
    ],
  ])('status and options: %s', (_rule, status, headers, overrides, expected) => {
    expect(freshnessLifetime(entry(headers, { status }), options(overrides))).toEqual(expected);
  });

  test.each<[string, HeaderMap, Freshness]>([
    [
      'targeted max-age beats Cache-Control max-age (RFC 9213 §2.1)',
      { 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=1' },
      { lifetime: 1, source: 'max-age' },
    ],
    [
      'targeted max-age beats a shorter one too',
      { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=3600' },
      { lifetime: 3600, source: 'max-age' },
    ],
    [
      'targeted field makes Expires ignored (§2.1)',
      { 'cdn-cache-control': 'max-age=0', expires: httpDate(10_000) },
      { lifetime: 0, source: 'max-age' },
    ],
    [
      'targeted field without lifetime: no Expires, heuristics instead',
      { 'cdn-cache-control': 'public', expires: httpDate(10_000), 'last-modified': httpDate(-1000) },
      { lifetime: 100, source: 'heuristic' },
    ],
    [
      'targeted max-age with past Expires',
      { 'cdn-cache-control': 'max-age=3600', expires: httpDate(-10_000) },
      { lifetime: 3600, source: 'max-age' },
    ],
    [
      'invalid targeted field → Cache-Control applies',
      { 'cache-control': 'max-age=7', 'cdn-cache-control': 'max-age=1, &&' },
      { lifetime: 7, source: 'max-age' },
    ],
    [
      'invalid targeted field → Expires applies',
      { 'cdn-cache-control': '"oops"', expires: httpDate(50) },
      { lifetime: 50, source: 'expires' },
    ],
    [
      '2^31 via targeted field',
      { 'cdn-cache-control': 'max-age=99999999999' },
      { lifetime: 2_147_483_648, source: 'max-age' },
    ],
  ])('targeted: %s', (_rule, headers, expected) => {
    expect(freshnessLifetime(entry(headers), options())).toEqual(expected);
  });

  test('another targeted field name can be configured', () => {
    const headers = { 'cdn-cache-control': 'max-age=1', 'acme-cache-control': 'max-age=9' };
    expect(freshnessLifetime(entry(headers), options({ targetedField: 'acme-cache-control' })).lifetime).toBe(9);
  });
});

describe('currentAge (RFC 9111 §4.2.3)', () => {
  test.each<[string, HeaderMap, { requestTime?: number; responseTime?: number }, number, number]>([
    ['just received → 0', {}, {}, at(0), 0],
    ['resident time counts', {}, {}, at(30), 30],
    ['rounded down', {}, {}, at(30.9), 30],
    ['Age header adds (corrected_age_value)', { age: '15' }, {}, at(0), 15],
    ['Age plus resident time', { age: '30' }, {}, at(3), 33],
    ['response delay adds to Age', { age: '10' }, { requestTime: at(-4) }, at(0), 14],
    ['response delay alone', {}, { requestTime: at(-4) }, at(0), 4],
    ['apparent age from a slow Date', { date: httpDate(-20) }, {}, at(0), 20],
    ['larger of apparent age and corrected Age', { date: httpDate(-20), age: '5' }, {}, at(0), 20],
    ['larger of corrected Age and apparent age', { date: httpDate(-20), age: '50' }, {}, at(0), 50],
    ['fast Date (in the future) → apparent age 0', { date: httpDate(60) }, {}, at(0), 0],
    ['no Date → apparent age 0', { date: undefined }, {}, at(5), 5],
    // An Age the cache does not trust adds nothing to the age; the response is stale instead.
    ['non-numeric Age adds nothing', { age: 'abc' }, {}, at(0), 0],
    ['negative Age adds nothing', { age: '-7200' }, {}, at(0), 0],
    ['float Age adds nothing', { age: '7200.0' }, {}, at(0), 0],
    ['a list that disagrees adds nothing', { age: '7200, 0' }, {}, at(0), 0],
    ['a list of one value repeated counts once', { age: '30, 30' }, {}, at(0), 30],
    ['repeated Age lines that agree count once', { age: ['30', '30'] }, {}, at(0), 30],
    [
      'a number with a parameter adds nothing to the age (the response is stale instead)',
      { age: '7200;foo=bar' },
      {},
      at(0),
      0,
    ],
    ['huge Age capped at 2^31', { age: '99999999999' }, {}, at(0), 2_147_483_648],
    ['clock going backwards never makes age negative', {}, {}, at(-50), 0],
  ])('%s', (_rule, headers, times, now, expected) => {
    expect(currentAge(entry(headers, times), now)).toBe(expected);
  });

  test('exactAge keeps the fraction', () => {
    expect(exactAge(entry(), at(1.5))).toBeCloseTo(1.5);
  });

  /**
   * RFC 9111 §5.1 and §4.2.3: how each form of Age is read, and whether a response with
   * `max-age=3600` that carries it is fresh when just received.
   */
  test.each<[string, string | string[], number | 'untrusted', boolean]>([
    ['one integer below max-age', '600', 600, true],
    ['one integer above max-age', '7200', 7200, false],
    ['leading zeros', '007200', 7200, false],
    ['surrounding whitespace', ' 600 ', 600, true],
    ['2^31 and beyond', '99999999999', 2_147_483_648, false],
    ['non-numeric: untrusted, stale', 'abc', 'untrusted', false],
    ['negative: untrusted, stale', '-7200', 'untrusted', false],
    ['decimal: untrusted, stale', '7200.0', 'untrusted', false],
    ['empty: untrusted, stale', '', 'untrusted', false],
    ['list "old, 0": untrusted, stale', '7200, 0', 'untrusted', false],
    ['list "0, old": untrusted, stale', '0, 7200', 'untrusted', false],
    ['two lines "old" then "0": untrusted, stale', ['7200', '0'], 'untrusted', false],
    ['two lines "0" then "old": untrusted, stale', ['0', '7200'], 'untrusted', false],
    ['list "0, 0": the one value', '0, 0', 0, true],
    ['two lines "0" and "0": the one value', ['0', '0'], 0, true],
    ['two lines "old" and "old": the one value', ['7200', '7200'], 7200, false],
    ['a list with an empty member: untrusted', '0,', 'untrusted', false],
    ['a parameter: untrusted, stale', '7200;foo=bar', 'untrusted', false],
    ['a numeric parameter: untrusted, stale', '7200;foo=111', 'untrusted', false],
    ['a small number with a parameter: still stale', '10;foo=bar', 'untrusted', false],
    ['a unit: untrusted, stale', '7200 seconds', 'untrusted', false],
    ['a list whose first member has a unit', '10 seconds, 0', 'untrusted', false],
  ])('Age %s (%j)', (_rule, age, read, fresh) => {
    expect(readAgeField({ age })).toBe(read);
    const received = entry({ 'cache-control': 'max-age=3600', age });
    expect(isFresh(freshnessLifetime(received, options()).lifetime, currentAge(received, at(0)))).toBe(fresh);
  });

  test('an untrusted Age keeps the lifetime source, with lifetime 0', () => {
    expect(freshnessLifetime(entry({ 'cache-control': 'max-age=3600', age: '5 s' }), options())).toEqual({
      lifetime: 0,
      source: 'max-age',
    });
  });

  test('ageFieldSeconds reads the Age field alone', () => {
    expect(ageFieldSeconds({ age: ' 12 ' })).toBe(12);
    expect(ageFieldSeconds({})).toBe(0);
  });
});

describe('isFresh (RFC 9111 §4.2)', () => {
  test.each<[number, number, boolean]>([
    [10, 9, true],
    [10, 10, false],
    [0, 0, false],
  ])('lifetime %d, age %d → %s', (lifetime, age, expected) => {
    expect(isFresh(lifetime, age)).toBe(expected);
  });
});

describe('parseHttpDate (RFC 9110 §5.6.7)', () => {
  const AUG_18_2050 = Date.UTC(2050, 7, 18, 2, 1, 18);
  test.each<[string, string | undefined, number | undefined]>([
    ['IMF-fixdate', 'Thu, 18 Aug 2050 02:01:18 GMT', AUG_18_2050],
    ['rfc850-date', 'Thursday, 18-Aug-50 02:01:18 GMT', AUG_18_2050],
    [
      'rfc850-date, two-digit year > 50 years ahead is last century',
      'Sunday, 06-Nov-94 08:49:37 GMT',
      Date.UTC(1994, 10, 6, 8, 49, 37),
    ],
    ['asctime-date', 'Thu Aug 18 02:01:18 2050', AUG_18_2050],
    ['asctime-date, one-digit day', 'Sun Nov  6 08:49:37 1994', Date.UTC(1994, 10, 6, 8, 49, 37)],
    ['letter case tolerated (weekday)', 'THU, 18 Aug 2050 02:01:18 GMT', AUG_18_2050],
    ['letter case tolerated (month)', 'Thu, 18 AUG 2050 02:01:18 GMT', AUG_18_2050],
    ['letter case tolerated (zone)', 'Thu, 18 Aug 2050 02:01:18 gMT', AUG_18_2050],
    ['surrounding whitespace tolerated', ' Thu, 18 Aug 2050 02:01:18 GMT ', AUG_18_2050],
    ['absent', undefined, undefined],
    ['"0"', '0', undefined],
    ['UTC instead of GMT', 'Thu, 18 Aug 2050 02:01:18 UTC', undefined],
    ['two-digit year in IMF-fixdate', 'Thu, 18 Aug 50 02:01:18 GMT', undefined],
    ['missing comma', 'Thu 18 Aug 2050 02:01:18 GMT', undefined],
    ['multiple spaces', 'Thu, 18  Aug  2050 02:01:18 GMT', undefined],
    ['date dashes in IMF-fixdate', 'Thu, 18-Aug-2050 02:01:18 GMT', undefined],
    ['time periods', 'Thu, 18 Aug 2050 02.01.18 GMT', undefined],
    ['one-digit hour', 'Thu, 18 Aug 2050 2:01:18 GMT', undefined],
    ['ISO 8601', '2050-08-18T02:01:18Z', undefined],
    ['31 February', 'Mon, 31 Feb 2050 02:01:18 GMT', undefined],
    ['hour 24', 'Thu, 18 Aug 2050 24:01:18 GMT', undefined],
    ['day 00', 'Thu, 00 Aug 2050 02:01:18 GMT', undefined],
  ])('%s', (_rule, value, expected) => {
    expect(parseHttpDate(value, T0)).toBe(expected);
  });

  test('round-trips the fixtures', () => {
    expect(parseHttpDate(httpDate(0))).toBe(T0);
  });
});
