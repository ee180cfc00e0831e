import { describe, expect, test } from '@jest/globals';
import {
  cacheKey,
  isValidHost,
  matchesVariant,
  normalizeUrl,
  readRequestTarget,
  secondaryKey,
  selectVariant,
  varyNames,
} from '../../src/policy/keys.js';
import type { EntryMeta, HeaderMap } from '../../src/policy/types.js';
import { at, entry, httpDate } from './fixtures.js';
import { BASE_ORIGIN, ORIGIN, PATH_CASES } from './fixtures-keys.js';

describe('cacheKey: origin-form only, normalised, never outside the base path', () => {
  test.each(PATH_CASES)('%s', (_rule, target, atOrigin, atBase) => {
    expect(cacheKey(ORIGIN, target)).toBe(atOrigin);
    expect(cacheKey(BASE_ORIGIN, target)).toBe(atBase);
  });

  test.each(PATH_CASES.filter(([, , key]) => key !== undefined))(
    'the key is a URL the proxy can fetch as is, at the origin host: %s',
    (_rule, target, atOrigin, atBase) => {
      for (const key of [atOrigin, atBase] as string[]) {
        const url = new URL(key);
        expect(url.href).toBe(key);
        expect(url.origin).toBe(new URL(key.startsWith(ORIGIN) ? ORIGIN : BASE_ORIGIN).origin);
      }
      expect(atBase?.startsWith(`${BASE_ORIGIN}/`)).toBe(true);
      // Normalising is idempotent: the key's own path gives the same key.
      const path = (atOrigin as string).slice(ORIGIN.length);
      expect(cacheKey(ORIGIN, path)).toBe(atOrigin);
      void target;
    },
  );

  test.each([
    ['default port dropped, host lower-cased (RFC 9110 §4.2.3)', 'HTTP://H.TEST:80', '/x', 'http://h.test/x'],
    ['https default port dropped', 'https://h.test:443', '/x', 'https://h.test/x'],
    ['other port kept', 'http://h.test:8080', '/x', 'http://h.test:8080/x'],
    ['trailing slash of the base path ignored', 'http://h.test/base/', '/x', 'http://h.test/base/x'],
    ['deep base path', 'http://h.test/a/b', '/../c', 'http://h.test/a/b/c'],
  ])('%s', (_rule, origin, target, expected) => {
    expect(cacheKey(origin, target)).toBe(expected);
  });

  test('equivalent targets share one key', () => {
    const keys = ['/a/b', '/a/./b', '/x/../a/b', '/a/%62', '/a\\b', '/a/%2e/b', '/a/b#x'].map((t) =>
      cacheKey(ORIGIN, t),
    );
    expect(new Set(keys)).toEqual(new Set([`${ORIGIN}/a/b`]));
  });
});

describe('normalizeUrl (for Location / Content-Location)', () => {
  test.each([
    ['dot segments and hex case', 'http://h.test/a/../b%2f%7e#f', 'http://h.test/b%2F~'],
    ['query kept', 'http://h.test/a?%7e', 'http://h.test/a?%7e'],
    ['not http(s) → undefined', 'ftp://h.test/a', undefined],
  ])('%s', (_rule, url, expected) => {
    expect(normalizeUrl(new URL(url))).toBe(expected);
  });
});

describe('varyNames (RFC 9110 §12.5.5)', () => {
  test.each<[string, HeaderMap, string[]]>([
    ['no Vary', {}, []],
    ['one name, lower-cased', { vary: 'Accept-Encoding' }, ['accept-encoding']],
    ['comma list with odd whitespace', { vary: ' Foo ,  Bar,Baz ' }, ['foo', 'bar', 'baz']],
    ['several field lines combine (RFC 9110 §5.3)', { vary: ['Foo', 'Bar'] }, ['foo', 'bar']],
    ['repeated names once, any case', { vary: ['Foo, foo', 'FOO'] }, ['foo']],
    ['empty members dropped (RFC 9110 §5.6.1)', { vary: ', Foo,,' }, ['foo']],
    ['empty line then *', { vary: ['', '*'] }, ['*']],
    ['* kept among names', { vary: 'Foo, *' }, ['foo', '*']],
    ['* * once', { vary: '*, *' }, ['*']],
  ])('%s', (_rule, headers, expected) => {
    expect(varyNames(headers)).toEqual(expected);
  });
});

describe('secondaryKey (RFC 9111 §4.1)', () => {
  test('no Vary → empty variant', () => {
    expect(secondaryKey([], { foo: '1' })).toEqual({ variant: '', varyValues: {} });
  });

  test('Vary: * → the * variant, which never matches', () => {
    expect(secondaryKey(['foo', '*'], { foo: '1' })).toEqual({ variant: '*', varyValues: {} });
  });

  test('values by name; absent is undefined, not empty', () => {
    expect(secondaryKey(['foo', 'bar', 'baz'], { foo: '1', baz: '' }).varyValues).toEqual({
      foo: '1',
      bar: undefined,
      baz: '',
    });
  });

  test.each<[string, string[], HeaderMap, HeaderMap, boolean]>([
    ['same value → same variant', ['foo'], { foo: '1' }, { foo: '1' }, true],
    ['different value → different variant', ['foo'], { foo: '1' }, { foo: '2' }, false],
    ['absent ≠ empty', ['foo'], {}, { foo: '' }, false],
    ['absent = absent', ['foo', 'bar'], { foo: '1' }, { foo: '1' }, true],
    ['whitespace around commas and at the ends removed', ['foo'], { foo: '1,2' }, { foo: ' 1, 2 ' }, true],
    ['several field lines combined (RFC 9110 §5.3)', ['foo'], { foo: '1, 2' }, { foo: ['1', '2'] }, true],
    ['inner whitespace runs collapsed', ['foo'], { foo: 'a  b' }, { foo: 'a\tb' }, true],
    ['empty list members dropped', ['foo'], { foo: '1,,2' }, { foo: '1, 2' }, true],
    ['commas inside quoted strings are not list commas', ['foo'], { foo: '"a, b"' }, { foo: '"a,b"' }, false],
    ['order matters for unknown fields', ['foo'], { foo: '1, 2' }, { foo: '2, 1' }, false],
    ['case matters for unknown fields', ['foo'], { foo: 'A' }, { foo: 'a' }, false],
    [
      'Accept-Encoding codings are case-insensitive (RFC 9110 §8.4.1)',
      ['accept-encoding'],
      { 'accept-encoding': 'GZIP' },
      { 'accept-encoding': 'gzip' },
      true,
    ],
    [
      'Accept-Encoding order means nothing (RFC 9110 §12.5.3)',
      ['accept-encoding'],
      { 'accept-encoding': 'gzip, br' },
      { 'accept-encoding': 'br,gzip' },
      true,
    ],
    [
      'Accept-Language tags are case-insensitive (RFC 5646 §2.1.1)',
      ['accept-language'],
      { 'accept-language': 'en-US' },
      { 'accept-language': 'en-us' },
      true,
    ],
    [
      'Accept-Language order may matter (RFC 9110 §12.5.4)',
      ['accept-language'],
      { 'accept-language': 'en, de' },
      { 'accept-language': 'de, en' },
      false,
    ],
    ['headers not nominated are ignored', ['foo'], { foo: '1', other: '2' }, { foo: '1', other: '3' }, true],
    ['Vary order does not change the variant', ['foo', 'bar'], { foo: '1', bar: '2' }, { foo: '1', bar: '2' }, true],
  ])('%s', (_rule, vary, a, b, same) => {
    const first = secondaryKey(vary, a).variant;
    const second = secondaryKey([...vary].reverse(), b).variant;
    expect(first === second).toBe(same);
  });

  test('the variant string is unambiguous: separators inside values are escaped', () => {
    const a = secondaryKey(['a', 'b'], { a: '1;b:2' }).variant;
    const b = secondaryKey(['a', 'b'], { a: '1', b: '2' }).variant;
    expect(a).not.toBe(b);
    expect(secondaryKey(['accept-encoding', 'foo'], { 'accept-encoding': 'gzip' }).variant).toBe(
      'accept-encoding:gzip;foo',
    );
  });
});

function stored(vary: string[], reqHeaders: HeaderMap, overrides: Partial<EntryMeta> = {}): EntryMeta {
  const { variant, varyValues } = secondaryKey(vary, reqHeaders);
  return entry({}, { vary, variant, varyValues, ...overrides });
}

describe('matchesVariant (RFC 9111 §4.1)', () => {
  test.each<[string, string[], HeaderMap, HeaderMap, boolean]>([
    ['no Vary matches anything', [], { foo: '1' }, { foo: '2' }, true],
    ['match', ['foo'], { foo: '1' }, { foo: '1' }, true],
    ['mismatch', ['foo'], { foo: '1' }, { foo: '2' }, false],
    ['request omits the header', ['foo'], { foo: '1' }, {}, false],
    ['both omit the header', ['foo', 'bar'], { foo: '1' }, { foo: '1' }, true],
    ['two-way mismatch on one', ['foo', 'bar'], { foo: '1', bar: 'abc' }, { foo: '2', bar: 'abc' }, false],
    ['normalised match', ['foo'], { foo: '1,2' }, { foo: ['1', ' 2'] }, true],
    ['Vary: * never matches', ['*'], { foo: '1' }, { foo: '1' }, false],
    ['Vary: foo, * never matches', ['foo', '*'], { foo: '1' }, { foo: '1' }, false],
  ])('%s', (_rule, vary, original, next, expected) => {
    expect(matchesVariant(stored(vary, original), next)).toBe(expected);
  });

  test('an absent value that went through JSON (key dropped or null) still means absent', () => {
    const viaJson = JSON.parse(JSON.stringify(stored(['foo', 'bar'], { foo: '1' }))) as EntryMeta;
    expect(matchesVariant(viaJson, { foo: '1' })).toBe(true);
    expect(matchesVariant(viaJson, { foo: '1', bar: '' })).toBe(false);
  });
});

describe('selectVariant (RFC 9111 §4, §4.1: the most recent matching response)', () => {
  const gzip = stored(['accept-encoding'], { 'accept-encoding': 'gzip' }, { bodyId: 'gzip' });
  const br = stored(['accept-encoding'], { 'accept-encoding': 'br' }, { bodyId: 'br' });

  test.each<[string, EntryMeta[], HeaderMap, string | undefined]>([
    ['nothing stored', [], {}, undefined],
    ['the matching variant', [gzip, br], { 'accept-encoding': 'br' }, 'br'],
    ['no match', [gzip, br], { 'accept-encoding': 'zstd' }, undefined],
    [
      'newer Date wins',
      [
        entry({ date: httpDate(10) }, { bodyId: 'new' }),
        entry({ date: httpDate(0) }, { bodyId: 'old', responseTime: at(20) }),
      ],
      {},
      'new',
    ],
    [
      'same Date: received last wins',
      [entry({}, { bodyId: 'first', responseTime: at(1) }), entry({}, { bodyId: 'second', responseTime: at(2) })],
      {},
      'second',
    ],
    [
      'no Date: received last wins',
      [
        entry({ date: undefined }, { bodyId: 'b', responseTime: at(5) }),
        entry({ date: undefined }, { bodyId: 'a', responseTime: at(1) }),
      ],
      {},
      'b',
    ],
    [
      'a response without Vary can be selected too',
      [stored(['foo'], { foo: '1' }, { bodyId: 'varied' }), entry({ date: httpDate(5) }, { bodyId: 'plain' })],
      { foo: '1' },
      'plain',
    ],
  ])('%s', (_rule, entries, headers, expected) => {
    expect(selectVariant(entries, headers)?.bodyId).toBe(expected);
  });
});

describe('isValidHost: uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2)', () => {
  test.each([
    ['a name', 'example.com', true],
    ['a name and port', 'example.com:8080', true],
    ['an IPv4 address', '127.0.0.1', true],
    ['an IPv6 literal and port', '[::1]:8080', true],
    ['an IPvFuture literal', '[v1.fe80::a+en1]', true],
    ['sub-delims and pct-encoding in a reg-name', "a!$&'()*+,;=%41.b", true],
    ['an empty port', 'example.com:', true],
    ['empty (a target without authority)', '', true],
    ['a path', 'evil.example/x', false],
    ['userinfo', 'user@example.com', false],
    ['the issue’s example', 'evil.example/x@y', false],
    ['a space', 'a b', false],
    ['two colons outside brackets', 'a:b:c', false],
    ['a port that is not digits', 'example.com:80x', false],
    ['an unclosed bracket', '[::1', false],
    ['a bad percent-encoding', 'a%4', false],
    ['a query', 'a?b', false],
    ['a backslash', 'a\\b', false],
  ])('%s: %j', (_rule, value, valid) => {
    expect(isValidHost(value)).toBe(valid);
  });
});

describe('readRequestTarget: the four forms of RFC 9112 §3.2', () => {
  test.each<[string, string, ReturnType<typeof readRequestTarget>]>([
    ['origin-form', '/a?b', { form: 'origin' }],
    [
      'absolute-form (§3.2.2)',
      'http://h.example/p?q=1',
      { form: 'absolute', authority: 'h.example', originForm: '/p?q=1' },
    ],
    [
      'absolute-form with a port',
      'http://h.example:8080/p',
      { form: 'absolute', authority: 'h.example:8080', originForm: '/p' },
    ],
    [
      'https, scheme in capitals',
      'HTTPS://h.example/p',
      { form: 'absolute', authority: 'h.example', originForm: '/p' },
    ],
    ['an empty path is /', 'http://h.example', { form: 'absolute', authority: 'h.example', originForm: '/' }],
    ['a query without a path', 'http://h.example?q', { form: 'absolute', authority: 'h.example', originForm: '/?q' }],
    ['an IPv6 authority', 'http://[::1]:80/p', { form: 'absolute', authority: '[::1]:80', originForm: '/p' }],
    ['userinfo (RFC 9110 §4.2.4)', 'http://user:pw@h.example/p', { form: 'invalid' }],
    ['no host (RFC 9110 §4.2.1)', 'http:///p', { form: 'invalid' }],
    ['a port but no host', 'http://:80/p', { form: 'invalid' }],
    ['another scheme', 'ftp://h.example/p', { form: 'invalid' }],
    ['asterisk-form', '*', { form: 'other' }],
    ['authority-form', 'h.example:443', { form: 'other' }],
  ])('%s: %s', (_rule, target, expected) => {
    expect(readRequestTarget(target)).toEqual(expected);
  });
});
