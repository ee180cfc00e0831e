import { describe, expect, test } from '@jest/globals';
import type { EntryMeta, HeaderMap, RuleConfig } from '@simple-cache/common';
import { ERRORS } from '../../src/errors.js';
import type { Learnt } from '../../src/proxy/retry.js';
import { chooseRoute, type Route, type RouteInput } from '../../src/proxy/route.js';
import { toPartEntry } from '../../src/policy/partial.js';
import { contentRange } from '../../src/policy/range.js';
import { compileRules } from '../../src/rules/index.js';
import { T0, at, entry, httpDate, options } from '../policy/fixtures.js';

/**
 * chooseRoute() is the proxy's only branching (issue 17): one row per rule, as policy/'s tables.
 * A row gives the request, what is stored, and what a route that could not finish learnt; it
 * expects the route and the parameters that matter for it.
 */
const FRESH = entry({ 'cache-control': 'max-age=60' });
const STALE = entry({ 'cache-control': 'max-age=60', etag: '"e"' }, { responseTime: at(-120), requestTime: at(-120) });
const SWR = entry(
  { 'cache-control': 'max-age=60, stale-while-revalidate=600' },
  { responseTime: at(-120), requestTime: at(-120) },
);
const GZIP = entry(
  { 'cache-control': 'max-age=60', vary: 'accept-encoding' },
  { vary: ['accept-encoding'], varyValues: { 'accept-encoding': 'gzip' }, variant: 'gzip' },
);
/** Fresh for 50 more seconds, received 10 seconds ago. */
const AGED = entry({ 'cache-control': 'max-age=60' }, { responseTime: at(-10), requestTime: at(-10) });
const NO_CACHE = entry({ 'cache-control': 'no-cache, max-age=60', etag: '"e"' });

type Expected = Partial<Route> & Pick<Route, 'route'>;
/** [rule, method, request headers, stored variants (undefined: not looked up yet), learnt, expected]. */
type Row = [string, string, HeaderMap, RouteInput['variants'], Learnt | undefined, Expected];

const KEY = 'http://origin.test/resource';

/** The operator's rules for a request to KEY, compiled as a config file's are (src/rules/). */
function rulesFor(method: string, rules: readonly RuleConfig[]): RouteInput['rules'] {
  return compileRules(rules, options(), 'http://origin.test').forRequest(method, KEY);
}

function input(method: string, headers: HeaderMap, variants: RouteInput['variants'], learnt?: Learnt): RouteInput {
  return {
    method,
    headers,
    key: KEY,
    variants,
    learnt,
    now: at(0),
    rules: rulesFor(method, []),
    rangeFetchMax: 16 * 1024 * 1024,
  };
}

const miss = (fwd: string, extra: Partial<Route> = {}): Expected =>
  ({ route: 'fetch', stale: undefined, fwd, acrossNodes: true, rangeLimit: undefined, ...extra }) as Expected;

describe('chooseRoute', () => {
  test.each<Row>([
    // Methods (RFC 9111 §4.4, §2): only GET and HEAD are looked up.
    ['POST goes through, unlooked', 'POST', {}, undefined, undefined, { route: 'pass', fwd: 'method' }],
    ['DELETE goes through', 'DELETE', {}, [FRESH], undefined, { route: 'pass', fwd: 'method' }],
    ['OPTIONS goes through', 'OPTIONS', {}, undefined, undefined, { route: 'pass', fwd: 'method' }],
    ['GET needs the stored variants first', 'GET', {}, undefined, undefined, { route: 'lookup' }],
    ['HEAD needs them too', 'HEAD', {}, undefined, undefined, { route: 'lookup' }],
    // Misses (RFC 9211 §2.2 fwd)
    ['nothing stored: uri-miss', 'GET', {}, [], undefined, miss('uri-miss')],
    ['another variant stored: vary-miss', 'GET', { 'accept-encoding': 'br' }, [GZIP], undefined, miss('vary-miss')],
    ['HEAD miss is fetched (as GET)', 'HEAD', {}, [], undefined, miss('uri-miss')],
    [
      'Range miss: fetched whole up to --range-fetch-max',
      'GET',
      { range: 'bytes=0-9' },
      [],
      undefined,
      miss('uri-miss', { rangeLimit: 16 * 1024 * 1024 }),
    ],
    [
      'Range on HEAD has no range semantics (RFC 9110 §14.2)',
      'HEAD',
      { range: 'bytes=0-9' },
      [],
      undefined,
      miss('uri-miss'),
    ],
    // Stored and usable (RFC 9111 §4.2)
    ['fresh: serve', 'GET', {}, [FRESH], undefined, { route: 'serve', entry: FRESH }],
    [
      'the matching variant: serve',
      'GET',
      { 'accept-encoding': 'gzip' },
      [GZIP],
      undefined,
      { route: 'serve', entry: GZIP },
    ],
    ['within stale-while-revalidate: serve (and refresh)', 'GET', {}, [SWR], undefined, { route: 'serve', entry: SWR }],
    [
      'max-stale accepts it: serve',
      'GET',
      { 'cache-control': 'max-stale=600' },
      [STALE],
      undefined,
      { route: 'serve', entry: STALE },
    ],
    // Stored, must be validated (RFC 9111 §4.3)
    [
      'stale GET: conditional fetch',
      'GET',
      {},
      [STALE],
      undefined,
      { route: 'fetch', stale: STALE, fwd: 'stale', acrossNodes: false },
    ],
    [
      'stale HEAD: a HEAD revalidation (§4.3.5)',
      'HEAD',
      {},
      [STALE],
      undefined,
      { route: 'revalidate-head', stale: STALE, fwd: 'stale' },
    ],
    [
      'response no-cache: revalidate, fwd stale',
      'GET',
      {},
      [NO_CACHE],
      undefined,
      { route: 'fetch', stale: NO_CACHE, fwd: 'stale' },
    ],
    [
      'request no-cache on a fresh one: fwd request',
      'GET',
      { 'cache-control': 'no-cache' },
      [FRESH],
      undefined,
      { route: 'fetch', stale: FRESH, fwd: 'request' },
    ],
    [
      'request max-age below the age: fwd request',
      'GET',
      { 'cache-control': 'max-age=5' },
      [AGED],
      undefined,
      { route: 'fetch', fwd: 'request' },
    ],
    // Preconditions only the origin may evaluate (RFC 9111 §4.3.2)
    [
      'If-Match with a stored response: pass, fwd request',
      'GET',
      { 'if-match': '"e"' },
      [FRESH],
      undefined,
      { route: 'pass', fwd: 'request' },
    ],
    [
      'If-Unmodified-Since on a miss: pass, fwd uri-miss',
      'GET',
      { 'if-unmodified-since': 'x' },
      [],
      undefined,
      { route: 'pass', fwd: 'uri-miss' },
    ],
    ['If-None-Match stays with the cache', 'GET', { 'if-none-match': '"e"' }, [FRESH], undefined, { route: 'serve' }],
    // only-if-cached (RFC 9111 §5.2.1.7)
    [
      'only-if-cached, nothing stored: 504',
      'GET',
      { 'cache-control': 'only-if-cached' },
      [],
      undefined,
      { route: 'refuse', error: ERRORS.onlyIfCached },
    ],
    [
      'only-if-cached, stale: 504',
      'GET',
      { 'cache-control': 'only-if-cached' },
      [STALE],
      undefined,
      { route: 'refuse', error: ERRORS.onlyIfCached },
    ],
    [
      'only-if-cached, fresh: serve',
      'GET',
      { 'cache-control': 'only-if-cached' },
      [FRESH],
      undefined,
      { route: 'serve' },
    ],
    // What a route learnt (Retry)
    ['look again: the variants are read again', 'GET', {}, [FRESH], { kind: 'look-again' }, { route: 'lookup' }],
    [
      'preconditions for the origin: pass',
      'GET',
      {},
      [FRESH],
      { kind: 'origin-decides' },
      { route: 'pass', fwd: 'request' },
    ],
    [
      'too large for a Range fetch: the Range goes to the origin, fwd kept (RFC 9111 §3.3)',
      'GET',
      { range: 'bytes=0-1' },
      [],
      { kind: 'range-too-large', fwd: 'uri-miss' },
      { route: 'fetch', fwd: 'uri-miss', forwardRange: true, rangeLimit: undefined, acrossNodes: false },
    ],
    [
      'stored body unusable: refetch whole, not across nodes',
      'GET',
      {},
      [FRESH],
      { kind: 'refetch', fwd: 'miss' },
      { route: 'fetch', stale: undefined, fwd: 'miss', acrossNodes: false },
    ],
    [
      'a HEAD whose 304 selects nothing: refetch (as GET)',
      'HEAD',
      {},
      [STALE],
      { kind: 'refetch', fwd: 'stale' },
      { route: 'fetch', stale: undefined, fwd: 'stale', rangeLimit: undefined },
    ],
  ])('%s', (_rule, method, headers, variants, learnt, expected) => {
    expect(chooseRoute(input(method, headers, variants, learnt))).toMatchObject(expected);
  });

  test('a target that cannot be a key is refused, whatever else', () => {
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), key: undefined })).toEqual({
      route: 'refuse',
      error: ERRORS.badRequestTarget,
      status: {},
    });
  });

  test('--range-fetch-max 0 sends every Range miss to the origin as it is', () => {
    const route = chooseRoute({ ...input('GET', { range: 'bytes=0-9' }, []), rangeFetchMax: 0 });
    expect(route).toEqual({
      route: 'fetch',
      stale: undefined,
      fwd: 'uri-miss',
      acrossNodes: false,
      rangeLimit: undefined,
      forwardRange: true,
    });
    // A stored response still answers the Range itself.
    expect(chooseRoute({ ...input('GET', { range: 'bytes=0-9' }, [FRESH]), rangeFetchMax: 0 }).route).toBe('serve');
  });

  test('a bypass rule sends every request through, naming the rule, before anything is looked up', () => {
    for (const method of ['GET', 'HEAD', 'POST']) {
      const match = { path: '/resource', methods: ['GET', 'HEAD', 'POST'] };
      const rules = rulesFor(method, [{ name: 'no-cache-api', match, bypass: true }]);
      expect(chooseRoute({ ...input(method, {}, undefined), rules })).toEqual({
        route: 'pass',
        fwd: 'bypass',
        detail: 'no-cache-api',
        rule: 'no-cache-api',
      });
    }
  });

  test('a bypass rule for other methods or paths changes nothing', () => {
    const rules = rulesFor('GET', [
      { name: 'posts', match: { path: '/resource', methods: ['POST'] }, bypass: true },
      { name: 'api', match: { path: '/api/**' }, bypass: true },
    ]);
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), rules })).toMatchObject({ route: 'serve', rule: undefined });
  });

  test('the rules’ policy for the stored response’s status decides its freshness, naming the rule', () => {
    const notFound = entry({ date: undefined }, { status: 404 });
    const rules = rulesFor('GET', [{ name: 'keep-404', match: { status: [404] }, ttl: '1m' }]);
    expect(chooseRoute({ ...input('GET', {}, [notFound]), rules })).toMatchObject({
      route: 'serve',
      entry: notFound,
      rule: 'keep-404',
    });
    // Past the rule's minute: revalidated, as without the rule at once.
    expect(chooseRoute({ ...input('GET', {}, [notFound]), rules, now: at(61) }).route).toBe('fetch');
    expect(chooseRoute(input('GET', {}, [notFound])).route).toBe('fetch');
  });

  test('a rule’s ttl overrides the response’s own lifetime; the response’s own names no rule', () => {
    const rules = rulesFor('GET', [{ name: 'short', match: { path: '/resource' }, ttl: '10s' }]);
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), rules, now: at(5) })).toMatchObject({
      route: 'serve',
      rule: 'short',
    });
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), rules, now: at(30) }).route).toBe('fetch');
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), now: at(30) })).toMatchObject({
      route: 'serve',
      rule: undefined,
    });
  });

  test('the clock decides between serve and revalidate', () => {
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), now: at(59) }).route).toBe('serve');
    expect(chooseRoute({ ...input('GET', {}, [FRESH]), now: at(61) }).route).toBe('fetch');
  });
});

/** A part holding start–end of 100 bytes, max-age=60, received at T0. */
function part(start: number, end: number): EntryMeta {
  const response = entry({
    'cache-control': 'max-age=60',
    etag: '"e"',
    date: httpDate(0),
    'content-range': contentRange({ start, end }, 100),
  });
  return { ...toPartEntry(response, { start, end, length: 100 }), bodyId: `b${start}` };
}

describe('chooseRoute with stored parts (RFC 9111 §3.3): serve them, or which fetch', () => {
  const forward = { route: 'fetch', forwardRange: true, rangeLimit: undefined, acrossNodes: false } as const;
  const whole = { route: 'fetch', forwardRange: false } as const;
  type PartRow = [string, string, HeaderMap, EntryMeta[], number, number, Expected];
  test.each<PartRow>([
    [
      'a Range inside a fresh part: served from it',
      'GET',
      { range: 'bytes=10-19' },
      [part(0, 49)],
      1,
      10,
      { route: 'serve-parts' },
    ],
    [
      'a Range inside two parts together',
      'GET',
      { range: 'bytes=40-59' },
      [part(0, 49), part(50, 99)],
      1,
      10,
      { route: 'serve-parts' },
    ],
    [
      'a Range past the length: 416 from the parts',
      'GET',
      { range: 'bytes=100-' },
      [part(0, 49)],
      1,
      10,
      { route: 'serve-parts' },
    ],
    [
      'a stale part is not served; larger than --range-fetch-max: the Range goes',
      'GET',
      { range: 'bytes=10-19' },
      [part(0, 49)],
      61,
      10,
      forward,
    ],
    [
      'a Range outside; the parts say the object is larger than --range-fetch-max',
      'GET',
      { range: 'bytes=60-69' },
      [part(0, 49)],
      1,
      10,
      { ...forward, fwd: 'uri-miss' },
    ],
    ['a Range outside; small enough to fetch whole', 'GET', { range: 'bytes=60-69' }, [part(0, 49)], 1, 1000, whole],
    ['no Range: a part never answers it (the whole is fetched)', 'GET', {}, [part(0, 99)], 1, 10, whole],
    ['HEAD, even with Range', 'HEAD', { range: 'bytes=0-9' }, [part(0, 49)], 1, 10, whole],
    [
      'no parts: the whole fetch finds the length out',
      'GET',
      { range: 'bytes=0-9' },
      [],
      1,
      10,
      { ...whole, rangeLimit: 10 },
    ],
    [
      'If-Range that does not hold: the whole is asked for',
      'GET',
      { range: 'bytes=0-9', 'if-range': '"other"' },
      [part(0, 49)],
      1,
      1000,
      whole,
    ],
    [
      'only-if-cached inside a part: served',
      'GET',
      { range: 'bytes=0-9', 'cache-control': 'only-if-cached' },
      [part(0, 49)],
      1,
      10,
      { route: 'serve-parts' },
    ],
    [
      'only-if-cached outside: 504',
      'GET',
      { range: 'bytes=60-69', 'cache-control': 'only-if-cached' },
      [part(0, 49)],
      1,
      10,
      { route: 'refuse', error: ERRORS.onlyIfCached },
    ],
    [
      'parts beside a complete response of another variant: vary-miss',
      'GET',
      { range: 'bytes=60-69', 'accept-encoding': 'br' },
      [part(0, 49), GZIP],
      1,
      10,
      { ...forward, fwd: 'vary-miss' },
    ],
  ])('%s', (_name, method, headers, variants, seconds, rangeFetchMax, expected) => {
    const chosen = chooseRoute({ ...input(method, headers, variants), now: at(seconds), rangeFetchMax });
    expect(chosen).toMatchObject(expected);
  });

  test('serve-parts carries the parts and the newest one’s freshness', () => {
    const held = part(0, 49);
    const chosen = chooseRoute({ ...input('GET', { range: 'bytes=0-9' }, [held]), now: T0 + 5000, rangeFetchMax: 10 });
    expect(chosen).toMatchObject({
      route: 'serve-parts',
      held: [held],
      decision: { action: 'fresh', age: 5, ttl: 55 },
    });
  });
});
