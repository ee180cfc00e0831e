import { describe, expect, test } from '@jest/globals';
import {
  deltaSeconds,
  fieldNamesOf,
  hasConflict,
  parseCacheControl,
  parseDeltaSeconds,
  readField,
  requestDirectives,
} from '../../src/policy/cache-control.js';
import { ignoresExpires, responseControl, responseDirectives } from '../../src/policy/response-control.js';
import type { HeaderMap } from '../../src/policy/types.js';

const asObject = (value: string | string[] | undefined) => Object.fromEntries(parseCacheControl(value));

describe('parseCacheControl (RFC 9111 §5.2, RFC 9110 §5.6)', () => {
  test.each<[string, string | string[] | undefined, Record<string, string | true>]>([
    ['absent field → no directives', undefined, {}],
    ['bare directive → true', 'no-store', { 'no-store': true }],
    ['token argument', 'max-age=60', { 'max-age': '60' }],
    ['names are case-insensitive (§5.2)', 'Max-Age=60, NO-CACHE', { 'max-age': '60', 'no-cache': true }],
    ['quoted-string argument is unquoted (RFC 9110 §5.6.4)', 'max-age="60"', { 'max-age': '60' }],
    ['quoted-pair is unescaped (RFC 9110 §5.6.4)', 'ext="a\\"b\\\\c"', { ext: 'a"b\\c' }],
    ['commas inside quotes do not split', 'no-cache="a, b", max-age=5', { 'no-cache': 'a, b', 'max-age': '5' }],
    [
      'max-age inside a quoted extension is not a directive',
      'ext="max-age=100", max-age=1',
      { ext: 'max-age=100', 'max-age': '1' },
    ],
    ['unterminated quote runs to the end', 'ext="abc', { ext: 'abc' }],
    ['several field lines are one list (RFC 9110 §5.3)', ['max-age=5', 'public'], { 'max-age': '5', public: true }],
    [
      'spaces and empty members are tolerated (RFC 9110 §5.6.1)',
      ' , max-age=5 ,, public ,',
      { 'max-age': '5', public: true },
    ],
    ['space before "=" makes the name invalid (dropped)', 'max-age =5, public', { public: true }],
    ['space after "=" is kept, so the value is invalid', 'max-age= 5', { 'max-age': ' 5' }],
    ['non-token name is dropped', 'm@x=1, {}, public', { public: true }],
    ['empty argument is kept as ""', 'max-age=', { 'max-age': '' }],
    ['duplicate: first value kept (§4.2.1)', 'max-age=5, max-age=10', { 'max-age': '5' }],
    ['duplicate no-cache field lists merge', ['no-cache="a"', 'no-cache="b"'], { 'no-cache': 'a, b' }],
    ['bare no-cache wins over a field list (most restrictive)', 'no-cache="a", no-cache', { 'no-cache': true }],
    ['bare private wins over a field list', 'private, private="x"', { private: true }],
  ])('%s', (_rule, value, expected) => {
    expect(asObject(value)).toEqual(expected);
  });

  test.each<[string, string | string[], string, boolean]>([
    ['different values conflict (§4.2.1)', 'max-age=5, max-age=10', 'max-age', true],
    ['conflict across field lines', ['max-age=5', 'max-age=10'], 'max-age', true],
    ['same value twice is no conflict', 'max-age=5, max-age="5"', 'max-age', false],
    ['a single occurrence is no conflict', 'max-age=5, s-maxage=1', 'max-age', false],
    ['merged field lists are no conflict', 'no-cache="a", no-cache="b"', 'no-cache', false],
  ])('hasConflict: %s', (_rule, value, name, expected) => {
    expect(hasConflict(parseCacheControl(value), name)).toBe(expected);
  });
});

describe('deltaSeconds (RFC 9111 §1.2.2)', () => {
  test.each<[string, string, number | undefined]>([
    ['digits', 'max-age=60', 60],
    ['zero', 'max-age=0', 0],
    ['leading zeros', 'max-age=003600', 3600],
    ['quoted form accepted (§5.2)', 'max-age="60"', 60],
    ['2^31 kept', 'max-age=2147483648', 2_147_483_648],
    ['overflow → 2^31', 'max-age=99999999999999999999', 2_147_483_648],
    ['negative → invalid', 'max-age=-1', undefined],
    ['leading alpha → invalid', 'max-age=a100', undefined],
    ['trailing alpha → invalid', 'max-age=100a', undefined],
    ['decimal → invalid', 'max-age=3600.0', undefined],
    ['single quotes → invalid', "max-age='3600'", undefined],
    ['leading space → invalid', 'max-age= 60', undefined],
    ['empty → invalid', 'max-age=', undefined],
    ['bare → invalid', 'max-age', undefined],
    ['absent', 'public', undefined],
  ])('%s', (_rule, value, expected) => {
    expect(deltaSeconds(parseCacheControl(value), 'max-age')).toBe(expected);
  });

  test('parseDeltaSeconds takes raw text', () => {
    expect(parseDeltaSeconds('12')).toBe(12);
    expect(parseDeltaSeconds('+12')).toBeUndefined();
  });
});

describe('fieldNamesOf (RFC 9111 §5.2.2.4, §5.2.2.7)', () => {
  test.each<[string, string | true | undefined, string[]]>([
    ['bare directive → no names', true, []],
    ['absent → no names', undefined, []],
    ['one name, lower-cased', 'Set-Cookie', ['set-cookie']],
    ['list with spaces', ' a ,B,  c ', ['a', 'b', 'c']],
    ['empty members and non-tokens dropped', 'a,, b c,', ['a']],
  ])('%s', (_rule, value, expected) => {
    expect(fieldNamesOf(value)).toEqual(expected);
  });
});

describe('responseDirectives with a targeted field (RFC 9213)', () => {
  const field = 'cdn-cache-control';
  const fields = { targetedField: field, cacheName: 'simple-cache' };
  test.each<[string, HeaderMap, Record<string, string | true>, boolean]>([
    ['no targeted field → Cache-Control', { 'cache-control': 'max-age=5' }, { 'max-age': '5' }, false],
    [
      'valid targeted field replaces Cache-Control (§2.1)',
      { 'cache-control': 'no-store', [field]: 'max-age=60' },
      { 'max-age': '60' },
      true,
    ],
    [
      'booleans and integers map back (§2.2)',
      { [field]: 'no-cache, s-maxage=10' },
      { 'no-cache': true, 's-maxage': '10' },
      true,
    ],
    ['?0 means absent (§2.2)', { [field]: 'no-store=?0, max-age=1' }, { 'max-age': '1' }, true],
    ['string argument is unquoted', { [field]: 'private="set-cookie"' }, { private: 'set-cookie' }, true],
    ['inner list joins its items', { [field]: 'no-cache=(a b)' }, { 'no-cache': 'a, b' }, true],
    ['parameters are ignored (§2.2)', { [field]: 'max-age=60;foo=bar' }, { 'max-age': '60' }, true],
    ['extension directives are kept', { [field]: 'foobar, max-age=3600' }, { foobar: true, 'max-age': '3600' }, true],
    ['later duplicate key wins (RFC 8941 §4.2.2)', { [field]: 'max-age=1, max-age=2' }, { 'max-age': '2' }, true],
    ['several lines form one dictionary', { [field]: ['max-age=1', 'public'] }, { 'max-age': '1', public: true }, true],
    [
      'invalid SF (unknown type) → fall back (§2.2)',
      { 'cache-control': 'no-store', [field]: 'max-age=10, &&&' },
      { 'no-store': true },
      false,
    ],
    [
      'upper-case key is not SF → fall back',
      { 'cache-control': 'max-age=1', [field]: 'MaX-aGe=3600' },
      { 'max-age': '1' },
      false,
    ],
    [
      'space before "=" → fall back',
      { 'cache-control': 'max-age=1', [field]: 'max-age =100' },
      { 'max-age': '1' },
      false,
    ],
    [
      'space after "=" → fall back',
      { 'cache-control': 'max-age=1', [field]: 'max-age= 100' },
      { 'max-age': '1' },
      false,
    ],
    ['trailing comma → fall back', { [field]: 'max-age=1,' }, {}, false],
    ['unterminated string → fall back', { [field]: 'ext="abc' }, {}, false],
    ['bad escape → fall back', { [field]: 'ext="\\a"' }, {}, false],
    ['escaped quote and backslash in a string', { [field]: 'ext="a\\"b\\\\"' }, { ext: 'a"b\\' }, true],
    ['control character in a string → fall back', { [field]: 'ext="a\tb"' }, {}, false],
    ['non-ASCII in a string → fall back', { [field]: 'ext="é"' }, {}, false],
    ['bad boolean → fall back', { [field]: 'no-store=?2' }, {}, false],
    ['bad number → fall back', { [field]: 'max-age=1.' }, {}, false],
    ['bad inner list → fall back', { [field]: 'no-cache=(a,b)' }, {}, false],
    [
      'wrongly typed max-age is dropped; nothing left → fall back',
      { 'cache-control': 'no-store', [field]: 'max-age="10000"' },
      { 'no-store': true },
      false,
    ],
    [
      'wrongly typed max-age dropped, the rest applies',
      { [field]: 'max-age=1.5, no-cache' },
      { 'no-cache': true },
      true,
    ],
    ['empty targeted field → fall back (§2.1)', { 'cache-control': 'public', [field]: '' }, { public: true }, false],
    [
      'byte sequences, tokens and negative integers parse',
      { [field]: 'a=:AQID:, b=tok/x, max-age=-1' },
      { a: 'AQID', b: 'tok/x', 'max-age': '-1' },
      true,
    ],
  ])('%s', (_rule, headers, expected, targeted) => {
    expect(Object.fromEntries(responseDirectives(headers, fields))).toEqual(expected);
    expect(responseControl(headers, fields).source).toBe(targeted ? 'targeted-field' : 'cache-control');
    expect(ignoresExpires(headers, fields)).toBe(targeted);
  });

  test('an empty targetedField option disables RFC 9213', () => {
    const disabled = { targetedField: '', cacheName: 'simple-cache' };
    expect(Object.fromEntries(responseDirectives({ 'cache-control': 'public', '': 'max-age=1' }, disabled))).toEqual({
      public: true,
    });
  });
});

describe('requestDirectives (RFC 9111 §5.2.1, §5.4)', () => {
  test.each<[string, HeaderMap, Record<string, string | true>]>([
    ['Cache-Control parsed', { 'cache-control': 'max-stale, min-fresh=5' }, { 'max-stale': true, 'min-fresh': '5' }],
    ['Pragma: no-cache without Cache-Control → no-cache (§5.4)', { pragma: 'no-cache' }, { 'no-cache': true }],
    ['Pragma is case-insensitive and a list', { pragma: 'foo, No-Cache' }, { 'no-cache': true }],
    [
      'Pragma ignored when Cache-Control present (§5.4)',
      { pragma: 'no-cache', 'cache-control': 'max-age=5' },
      { 'max-age': '5' },
    ],
    ['other Pragma values mean nothing', { pragma: 'unrecognised-extension' }, {}],
  ])('%s', (_rule, headers, expected) => {
    expect(Object.fromEntries(requestDirectives(headers))).toEqual(expected);
  });
});

test('readField joins repeated lines', () => {
  expect(readField({ vary: ['a', 'b'] }, 'vary')).toBe('a, b');
  expect(readField({}, 'vary')).toBeUndefined();
});
