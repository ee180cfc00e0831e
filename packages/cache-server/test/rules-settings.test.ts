import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { RuleConfig } from '@simple-cache/common';
import { useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, sequence, startHarness, type Harness } from './helpers/rfc-harness.js';

/**
 * Every rule setting against a real origin and cache (issue 14): what each overrides, what it
 * leaves to the RFC, and what Cache-Status says about it. The rules are given as the config
 * file's `rules:` would give them.
 */
const RULES: RuleConfig[] = [
  { name: 'api', match: { path: '/api/**' }, bypass: true },
  { name: 'api-public', match: { path: '/api/public/**' }, bypass: false, ttl: '30s' },
  { name: 'head-bypass', match: { path: '/heads/**', methods: ['HEAD'] }, bypass: true },
  { name: 'plain-ttl', match: { path: '/ttl/**' }, ttl: '1m' },
  { name: 'forced', match: { path: '/forced/**' }, ttl: '1m', force: true },
  { name: 'defaults', match: { path: '/defaults/**' }, 'default-ttl': '2m' },
  { name: 'not-found', match: { path: '/favicon.ico', status: [404] }, ttl: '1m' },
  { name: 'errors', match: { path: '/flaky/**', status: '5xx' }, ttl: '5s' },
  { name: 'campaign', match: { path: '/shop/**' }, key: { 'ignore-query': ['utm_*', 'fbclid'], 'sort-query': true } },
  { name: 'lang', match: { path: '/i18n/**' }, key: { headers: ['Accept-Language'] } },
  { name: 'static', match: { path: '/static/**' }, 'strip-cookies': true },
  {
    name: 'stale',
    match: { path: '/stale/**' },
    'stale-while-revalidate': '30s',
    'stale-if-error': '1m',
    grace: '1m',
  },
];

let h: Harness;
let clock: ReturnType<typeof useFakeClock>;
beforeAll(async () => {
  h = await startHarness(
    {
      '/api/users': respond({ 'cache-control': 'max-age=60' }, 'users'),
      '/api/public/list': respond({}, 'list'),
      '/heads/x': respond({ 'cache-control': 'max-age=60' }, 'heads'),
      '/ttl/zero': respond({ 'cache-control': 'max-age=0' }, 'zero'),
      '/ttl/long': respond({ 'cache-control': 'max-age=3600' }, 'long'),
      '/ttl/private': respond({ 'cache-control': 'private' }, 'private'),
      '/ttl/no-store': respond({ 'cache-control': 'no-store' }, 'no-store'),
      '/ttl/cookie': respond({ 'set-cookie': 'sid=1' }, 'cookie'),
      '/ttl/no-cache': respond({ 'cache-control': 'no-cache' }, 'no-cache'),
      '/forced/no-store': respond({ 'cache-control': 'no-store, private', 'set-cookie': 'sid=2' }, 'forced'),
      '/forced/no-cache': respond({ 'cache-control': 'no-cache' }, 'forced-nc'),
      '/forced/authorized': respond({}, 'for-one-user'),
      '/defaults/none': respond({}, 'none'),
      '/defaults/own': respond({ 'cache-control': 'max-age=5' }, 'own'),
      '/favicon.ico': respond({}, 'no icon', 404),
      '/missing': respond({}, 'missing', 404),
      '/flaky/x': respond({}, 'down', 503),
      '/shop/item': respond({ 'cache-control': 'max-age=60' }, 'item'),
      '/i18n/page': (req, res, body) =>
        respond({ 'cache-control': 'max-age=60' }, `page in ${req.headers['accept-language']}`)(req, res, body),
      '/static/app.js': respond({ 'cache-control': 'max-age=60', 'set-cookie': 'tracker=1' }, 'app'),
    },
    { rules: RULES },
  );
});
afterAll(() => h?.close());
beforeEach(() => {
  clock = useFakeClock();
});
afterEach(() => clock.restore());

async function twice(path: string, headers: Record<string, string> = {}) {
  const first = await h.get(path, headers);
  await h.settle();
  const second = await h.get(path, headers);
  return { first, second };
}

describe('bypass', () => {
  test('neither served from nor stored in the cache, whatever the origin says; Cache-Status names the rule', async () => {
    const { first, second } = await twice('/api/users');
    for (const reply of [first, second]) {
      expect(reply.headers['x-cache']).toBe('BYPASS');
      expect(cacheStatusOf(reply)).toBe('fwd=bypass; fwd-status=200; detail=api');
      expect(reply.body.toString()).toBe('users');
    }
    expect(h.seen('/api/users')).toBe(2);
    expect((await h.get('/api/users', {}, 'HEAD')).headers['x-cache']).toBe('BYPASS');
  });

  test('a later rule overrides an earlier one’s bypass (bypass: false) and adds its own ttl', async () => {
    const { first, second } = await twice('/api/public/list');
    expect(first.headers['x-cache']).toBe('MISS');
    expect(cacheStatusOf(first)).toBe('fwd=uri-miss; fwd-status=200; stored; detail=api-public');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(cacheStatusOf(second)).toBe('hit; ttl=30; detail=api-public');
  });

  test('methods: a rule for HEAD leaves GET alone', async () => {
    const { second } = await twice('/heads/x');
    expect(second.headers['x-cache']).toBe('HIT');
    const head = await h.get('/heads/x', {}, 'HEAD');
    expect(head.headers['x-cache']).toBe('BYPASS');
    expect(cacheStatusOf(head)).toContain('detail=head-bypass');
  });
});

describe('ttl', () => {
  test('replaces the origin’s lifetime, shorter or longer', async () => {
    const zero = await twice('/ttl/zero');
    expect(zero.second.headers['x-cache']).toBe('HIT');
    expect(cacheStatusOf(zero.second)).toBe('hit; ttl=60; detail=plain-ttl');
    const long = await twice('/ttl/long');
    expect(cacheStatusOf(long.second)).toBe('hit; ttl=60; detail=plain-ttl');
    // The origin's own headers still reach the client unchanged.
    expect(long.second.headers['cache-control']).toBe('max-age=3600');
    clock.advance(61);
    expect((await h.get('/ttl/long')).headers['x-cache']).toBe('EXPIRED');
  });

  test.each([
    ['/ttl/private', 'private'],
    ['/ttl/no-store', 'no-store'],
    ['/ttl/cookie', 'set-cookie'],
  ])('without force it does not override %s', async (path, reason) => {
    const { first, second } = await twice(path);
    expect(cacheStatusOf(first)).toBe(`fwd=uri-miss; fwd-status=200; detail=${reason}`);
    expect(second.headers['x-cache']).toBe('MISS');
  });

  test('without force, no-cache still means validate on every use', async () => {
    const { second } = await twice('/ttl/no-cache');
    expect(second.headers['x-cache']).not.toBe('HIT');
    expect(h.seen('/ttl/no-cache')).toBe(2);
  });

  test('force: no-store, private and Set-Cookie no longer prevent storing; the cookie itself is never shared', async () => {
    const { first, second } = await twice('/forced/no-store');
    expect(first.headers['set-cookie']).toEqual(['sid=2']);
    expect(cacheStatusOf(first)).toBe('fwd=uri-miss; fwd-status=200; stored; detail=forced');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['set-cookie']).toBeUndefined();
    expect(second.body.toString()).toBe('forced');
    expect(h.seen('/forced/no-store')).toBe(1);
  });

  test('force: no-cache is ignored, and a response to an authorized request is shared', async () => {
    expect((await twice('/forced/no-cache')).second.headers['x-cache']).toBe('HIT');
    const { second } = await twice('/forced/authorized', { authorization: 'Bearer someone' });
    expect(second.headers['x-cache']).toBe('HIT');
    expect((await h.get('/forced/authorized')).body.toString()).toBe('for-one-user');
  });
});

describe('default-ttl', () => {
  test('gives a lifetime when the origin gives none, and yields to the origin’s own', async () => {
    const none = await twice('/defaults/none');
    expect(cacheStatusOf(none.second)).toBe('hit; ttl=120; detail=defaults');
    const own = await twice('/defaults/own');
    expect(cacheStatusOf(own.second)).toBe('hit; ttl=5');
  });
});

describe('status-matched ttl: negative caching', () => {
  test('a 404 for /favicon.ico is cached for its rule’s minute; other 404s are not', async () => {
    const { first, second } = await twice('/favicon.ico');
    expect(first.status).toBe(404);
    expect(cacheStatusOf(first)).toBe('fwd=uri-miss; fwd-status=404; stored; detail=not-found');
    expect([second.status, second.headers['x-cache'], second.body.toString()]).toEqual([404, 'HIT', 'no icon']);
    expect(h.seen('/favicon.ico')).toBe(1);
    const missing = await twice('/missing');
    expect(missing.second.headers['x-cache']).toBe('MISS');
    expect(h.seen('/missing')).toBe(2);
  });

  test('a 5xx is cached for 5 s, then asked for again', async () => {
    const { second } = await twice('/flaky/x');
    expect([second.status, second.headers['x-cache']]).toEqual([503, 'HIT']);
    clock.advance(6);
    expect((await h.get('/flaky/x')).headers['x-cache']).toBe('EXPIRED');
    expect(h.seen('/flaky/x')).toBe(2);
  });
});

describe('key', () => {
  test('ignore-query and sort-query: one entry for the same page, and the origin gets the URL as sent', async () => {
    await h.get('/shop/item?b=2&utm_source=news&a=1&fbclid=x');
    await h.settle();
    const same = await h.get('/shop/item?a=1&b=2');
    expect(same.headers['x-cache']).toBe('HIT');
    expect((await h.get('/shop/item?b=2&a=1&utm_medium=mail')).headers['x-cache']).toBe('HIT');
    expect((await h.get('/shop/item?a=1&b=3')).headers['x-cache']).toBe('MISS');
    expect(h.origin.requests.filter((r) => r.url.startsWith('/shop/item')).map((r) => r.url)).toEqual([
      '/shop/item?b=2&utm_source=news&a=1&fbclid=x',
      '/shop/item?a=1&b=3',
    ]);
  });

  test('headers: each Accept-Language value gets its own entry, though the origin sent no Vary', async () => {
    const en = await twice('/i18n/page', { 'accept-language': 'en' });
    expect(en.second.headers['x-cache']).toBe('HIT');
    const fr = await h.get('/i18n/page', { 'accept-language': 'fr' });
    expect([fr.headers['x-cache'], fr.body.toString()]).toEqual(['MISS', 'page in fr']);
    await h.settle();
    expect((await h.get('/i18n/page', { 'accept-language': 'en' })).body.toString()).toBe('page in en');
    expect(fr.headers.vary).toBeUndefined();
  });
});

describe('strip-cookies', () => {
  test('Cookie never reaches the origin; Set-Cookie is neither stored nor sent; the response is shared', async () => {
    const { first, second } = await twice('/static/app.js', { cookie: 'session=secret' });
    expect(h.origin.requests.find((r) => r.url === '/static/app.js')?.headers.cookie).toBeUndefined();
    expect(first.headers['set-cookie']).toBeUndefined();
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['set-cookie']).toBeUndefined();
  });
});

describe('per-path stale windows', () => {
  test('stale-while-revalidate, then stale-if-error and grace from the rule, on a response that has none', async () => {
    h.origin.route(
      '/stale/page',
      sequence(
        respond({ 'cache-control': 'max-age=10' }, 'v1'),
        respond({ 'cache-control': 'max-age=10' }, 'v2'),
        respond({}, 'broken', 500),
      ),
    );
    await twice('/stale/page');
    clock.advance(25);
    const updating = await h.get('/stale/page');
    expect([updating.headers['x-cache'], updating.body.toString()]).toEqual(['UPDATING', 'v1']);
    await h.settle();
    expect((await h.get('/stale/page')).body.toString()).toBe('v2');
    // 10 s fresh + 30 s swr passed; 1 m stale-if-error + 1 m grace still cover the origin's 500.
    clock.advance(100);
    const stale = await h.get('/stale/page');
    expect([stale.headers['x-cache'], stale.body.toString()]).toEqual(['STALE', 'v2']);
    clock.advance(45);
    expect((await h.get('/stale/page')).status).toBe(500);
  });
});

describe('explain names the rules', () => {
  test('the rules that match, the rule behind each setting, and a bypass', async () => {
    await twice('/favicon.ico');
    const explained = await h.get('/_cache/explain?url=/favicon.ico&probe=0');
    const body = JSON.parse(explained.body.toString()) as {
      rules: { matched: string[]; bypass: string | null };
      variants: {
        rules: Record<string, string>;
        freshness: { source: string };
        steps: { check: string; text: string }[];
      }[];
    };
    expect(body.rules).toMatchObject({ matched: ['not-found'], bypass: null });
    expect(body.variants[0]?.rules).toEqual({ ttl: 'not-found' });
    expect(body.variants[0]?.freshness.source).toBe('rule-ttl');
    expect(body.variants[0]?.steps[0]).toMatchObject({
      check: 'rules',
      text: 'Rules matching this URL: not-found. For a 404: ttl from not-found.',
    });

    const bypassed = JSON.parse((await h.get('/_cache/explain?url=/api/users&probe=0')).body.toString()) as {
      next: string;
      rules: { bypass: string };
      steps: { check: string; reason: string }[];
    };
    expect(bypassed).toMatchObject({ next: 'bypass', rules: { bypass: 'api' } });
    expect(bypassed.steps[0]).toMatchObject({ check: 'rules', reason: 'bypass' });
  });
});

describe('purge under key rules', () => {
  test('purging a URL purges the entry its key rules store it under', async () => {
    await h.get('/shop/item?x=1&utm_source=a&w=2');
    await h.settle();
    expect((await h.get('/shop/item?w=2&x=1')).headers['x-cache']).toBe('HIT');
    const purged = await h.get('/shop/item?x=1&w=2&utm_campaign=b', {}, 'PURGE');
    expect(JSON.parse(purged.body.toString())).toMatchObject({ purged: 1 });
    expect((await h.get('/shop/item?w=2&x=1')).headers['x-cache']).toBe('MISS');
  });
});
