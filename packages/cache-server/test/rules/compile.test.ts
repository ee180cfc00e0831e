import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { RuleConfig } from '@simple-cache/common';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import { compileGlobs, compileRules, DEFAULT_TTL_STATUSES, keyWithQuery } from '../../src/rules/index.js';

const ORIGIN = 'http://origin.test:8000';
const key = (path: string) => `${ORIGIN}${path}`;

describe('path globs: * within a segment, ** across segments, everything else literal', () => {
  test.each<[string, string, boolean]>([
    ['/favicon.ico', '/favicon.ico', true],
    ['/favicon.ico', '/favicon.icox', false],
    ['/favicon.ico', '/faviconXico', false],
    ['/static/*', '/static/a.css', true],
    ['/static/*', '/static/', true],
    ['/static/*', '/static/a/b.css', false],
    ['/static/*', '/static', false],
    ['/static/**', '/static/a/b/c.css', true],
    ['/static/**', '/static/', true],
    ['/static/**', '/static', true],
    ['/static/**', '/staticfoo', false],
    ['/static/**', '/other/static/a', false],
    ['/**/*.png', '/a.png', true],
    ['/**/*.png', '/x/y/a.png', true],
    ['/**/*.png', '/x/y/a.png/b', false],
    ['/a/**/b', '/a/b', true],
    ['/a/**/b', '/a/x/y/b', true],
    ['/a/**/b', '/a/xb', false],
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    ['**', '/anything', true],
    ['/api/v*/users', '/api/v2/users', true],
    ['/api/v*/users', '/api/v2/x/users', false],
    ['/docs/(draft)', '/docs/(draft)', true],
    ['/docs/(draft)', '/docs/draft', false],
    ['/x[1]', '/x[1]', true],
    ['/x[1]', '/x1', false],
    ['/a+b', '/a+b', true],
    ['/a+b', '/aab', false],
    ['/{a,b}', '/{a,b}', true],
    ['/{a,b}', '/a', false],
    ['/API/**', '/api/x', false],
  ])('%s matches %s: %s', (glob, path, expected) => {
    expect(compileGlobs([glob]).test(path)).toBe(expected);
  });

  test('a list matches when any of its globs does', () => {
    const re = compileGlobs(['/a/*', '/b/**']);
    expect([re.test('/a/x'), re.test('/b/x/y'), re.test('/c')]).toEqual([true, true, false]);
  });

  test('a glob without wildcards matches exactly the path it spells (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\/[^*\s?#]{0,30}$/), fc.stringMatching(/^\/[^\s?#]{0,30}$/), (glob, path) => {
        expect(compileGlobs([glob]).test(path)).toBe(glob === path);
      }),
    );
  });

  test('* never matches across a /, ** matches any path below its prefix (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9._-]{1,8}$/), { minLength: 1, maxLength: 5 }), (segments) => {
        const path = `/${segments.join('/')}`;
        expect(compileGlobs(['/*']).test(path)).toBe(segments.length === 1);
        expect(compileGlobs([`/${segments[0]}/**`]).test(path)).toBe(true);
      }),
    );
  });
});

describe('key: ignore-query and sort-query rewrite the key only', () => {
  const ignore = /^(?:utm_.*|fbclid)$/;
  test.each<[string, { ignore?: RegExp; sort: boolean }, string]>([
    ['/a?utm_source=x&b=1', { ignore, sort: false }, '/a?b=1'],
    ['/a?utm_source=x&utm_medium=y', { ignore, sort: false }, '/a'],
    ['/a?b=1&fbclid=z&a=2', { ignore, sort: false }, '/a?b=1&a=2'],
    ['/a?utm%5Fsource=x&b=1', { ignore, sort: false }, '/a?b=1'],
    ['/a?b=1&a=2', { sort: true }, '/a?a=2&b=1'],
    ['/a?b=1&a=2&a=1', { sort: true }, '/a?a=2&a=1&b=1'],
    ['/a?b=1&utm_x=1&a=2', { ignore, sort: true }, '/a?a=2&b=1'],
    ['/a', { ignore, sort: true }, '/a'],
    ['/a?', { ignore, sort: true }, '/a'],
    ['/a?flag&b=1', { sort: true }, '/a?b=1&flag'],
  ])('%s → %s', (path, rule, expected) => {
    expect(keyWithQuery(key(path), rule)).toBe(key(expected));
  });
});

describe('compileRules: every matching rule applies, a later one overriding an earlier one’s same setting', () => {
  const rules: RuleConfig[] = [
    { name: 'everything', match: { path: '/**' }, 'default-ttl': '1h', grace: '10m' },
    { name: 'api', match: { path: '/api/**' }, bypass: true },
    { name: 'api-public', match: { path: '/api/public/**' }, bypass: false, ttl: '30s' },
    { name: 'static', match: { path: ['/static/**', '/**/*.png'] }, ttl: '365d', 'strip-cookies': true },
    { name: 'not-found', match: { path: '/**', status: [404, 410] }, ttl: '1m' },
    { name: 'errors', match: { status: '5xx' }, ttl: '5s', 'stale-if-error': '1d' },
    { name: 'purge-post', match: { path: '/hooks/*', methods: ['POST'] }, bypass: true },
    { name: 'utm', match: {}, key: { 'ignore-query': ['utm_*'], 'sort-query': true } },
    { name: 'lang', match: { path: '/i18n/**' }, key: { headers: ['Accept-Language'] } },
    { name: 'no-sort', match: { path: '/ordered/**' }, key: { 'sort-query': false } },
  ];
  const compiled = compileRules(rules, DEFAULT_POLICY_OPTIONS, ORIGIN);

  test.each<[string, string, string[], string | undefined]>([
    ['GET', '/index.html', ['everything', 'not-found', 'errors', 'utm'], undefined],
    ['GET', '/api/users', ['everything', 'api', 'not-found', 'errors', 'utm'], 'api'],
    ['HEAD', '/api/users', ['everything', 'api', 'not-found', 'errors', 'utm'], 'api'],
    ['GET', '/api/public/list', ['everything', 'api', 'api-public', 'not-found', 'errors', 'utm'], undefined],
    ['POST', '/api/users', [], undefined],
    ['POST', '/hooks/deploy', ['purge-post'], 'purge-post'],
    ['GET', '/hooks/deploy', ['everything', 'not-found', 'errors', 'utm'], undefined],
    ['GET', '/img/a.png', ['everything', 'static', 'not-found', 'errors', 'utm'], undefined],
  ])(
    '%s %s matches %j (status rules included: their match has no status yet); bypass by %s',
    (method, path, matched, bypass) => {
      const request = compiled.forRequest(method, key(`${path}?q=1`));
      expect(request.matched).toEqual(matched);
      expect(request.bypass).toBe(bypass);
    },
  );

  test.each<[string, number, Record<string, unknown>, Record<string, string>]>([
    ['/page', 200, { defaultTtl: 3600, grace: 600 }, { defaultTtl: 'everything', grace: 'everything' }],
    ['/page', 404, { ttl: 60, grace: 600 }, { ttl: 'not-found', grace: 'everything' }],
    ['/page', 410, { ttl: 60, grace: 600 }, { ttl: 'not-found', grace: 'everything' }],
    [
      '/page',
      503,
      { ttl: 5, staleIfError: 86_400, grace: 600 },
      { ttl: 'errors', staleIfError: 'errors', grace: 'everything' },
    ],
    [
      '/static/app.js',
      200,
      { ttl: 31_536_000, defaultTtl: 3600, stripCookies: true, grace: 600 },
      { ttl: 'static', defaultTtl: 'everything', grace: 'everything' },
    ],
    // A rule without match.status gives no lifetime to an error: 404 gets not-found's 1m, not static's year.
    ['/static/missing.js', 404, { ttl: 60, stripCookies: true, grace: 600 }, { ttl: 'not-found', grace: 'everything' }],
    [
      '/static/broken.js',
      500,
      { ttl: 5, stripCookies: true, staleIfError: 86_400, grace: 600 },
      { ttl: 'errors', staleIfError: 'errors', grace: 'everything' },
    ],
    [
      '/api/public/x',
      200,
      { ttl: 30, defaultTtl: 3600, grace: 600 },
      { ttl: 'api-public', defaultTtl: 'everything', grace: 'everything' },
    ],
  ])('%s with status %d gets %j', (path, status, expected, decidedBy) => {
    const request = compiled.forRequest('GET', key(path));
    const settings = ['ttl', 'defaultTtl', 'force', 'staleIfError', 'staleWhileRevalidate', 'stripCookies', 'grace'];
    const policy = request.policyFor(status) as unknown as Record<string, unknown>;
    const got = Object.fromEntries(settings.filter((name) => policy[name] !== undefined).map((n) => [n, policy[n]]));
    expect(got).toEqual({ grace: 0, ...expected });
    expect(request.decidedBy(status)).toEqual(decidedBy);
  });

  test('status-free lifetime settings act on the default statuses only; stale windows on any', () => {
    const only = compileRules([{ match: {}, ttl: '1h', grace: '1m' }], DEFAULT_POLICY_OPTIONS, ORIGIN);
    for (let status = 100; status < 600; status++) {
      const policy = only.forRequest('GET', key('/x')).policyFor(status);
      expect(policy.ttl).toBe(DEFAULT_TTL_STATUSES.has(status) ? 3600 : undefined);
      expect(policy.grace).toBe(60);
    }
  });

  test.each<[string, string, string]>([
    ['/a?utm_source=x&b=2&a=1', '/a?a=1&b=2', 'utm: ignored and sorted'],
    ['/ordered/x?b=2&a=1&utm_x=1', '/ordered/x?b=2&a=1', 'no-sort overrides sort-query only; utm still ignored'],
    ['/i18n/x?b=2&a=1', '/i18n/x?a=1&b=2', 'lang adds headers and keeps utm’s query settings'],
  ])('key of %s is %s (%s)', (path, expected) => {
    expect(compiled.forRequest('GET', key(path)).key(key(path))).toBe(key(expected));
  });

  test('key.headers are lower-cased; a later rule’s list replaces an earlier one’s', () => {
    expect(compiled.forRequest('GET', key('/i18n/x')).keyHeaders).toEqual(['accept-language']);
    expect(compiled.forRequest('GET', key('/x')).keyHeaders).toEqual([]);
  });

  test('the path is the normalised key’s, below the origin’s base path, without the query', () => {
    const based = compileRules(
      [{ match: { path: '/api/**' }, bypass: true }],
      DEFAULT_POLICY_OPTIONS,
      `${ORIGIN}/base/`,
    );
    expect(based.forRequest('GET', `${ORIGIN}/base/api/x?y=/api/`).bypass).toBe('rules[0]');
    expect(based.forRequest('GET', `${ORIGIN}/base/other?x=/api/y`).bypass).toBeUndefined();
  });

  test('answers are memoised per method and path: the same object for the same request', () => {
    const a = compiled.forRequest('GET', key('/page?a=1'));
    expect(compiled.forRequest('GET', key('/page?b=2'))).toBe(a);
    expect(a.policyFor(200)).toBe(a.policyFor(200));
    expect(compiled.forRequest('HEAD', key('/page'))).not.toBe(a);
  });

  test('without rules every request gets the base policy itself and its key unchanged', () => {
    const none = compileRules([], DEFAULT_POLICY_OPTIONS, ORIGIN).forRequest('GET', key('/a?utm_x=1'));
    expect(none.policyFor(404)).toBe(DEFAULT_POLICY_OPTIONS);
    expect(none.key(key('/a?utm_x=1'))).toBe(key('/a?utm_x=1'));
    expect(none.matched).toEqual([]);
  });

  test('durations in seconds: text with units, or a bare number of seconds', () => {
    const timed = compileRules(
      [{ match: {}, ttl: 90, grace: '1.5m', 'stale-while-revalidate': '2w', 'stale-if-error': '1500ms' }],
      DEFAULT_POLICY_OPTIONS,
      ORIGIN,
    ).forRequest('GET', key('/'));
    expect(timed.policyFor(200)).toMatchObject({
      ttl: 90,
      grace: 90,
      staleWhileRevalidate: 1_209_600,
      staleIfError: 1,
    });
  });
});
