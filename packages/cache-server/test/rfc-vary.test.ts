import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Route } from './helpers/test-origin.js';
import { useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

/** Answers with the request's values of `names` in the body, so each variant is recognisable. */
function echoing(vary: string | string[], ...names: string[]): Route {
  return (req, res, body) => {
    const text = names.map((name) => `${name}=${String(req.headers[name] ?? '-')}`).join(' ');
    respond({ 'cache-control': 'max-age=600', vary }, text)(req, res, body);
  };
}

describe('Vary: secondary keys (RFC 9111 §4.1)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '/lang': echoing('Accept-Language', 'accept-language'),
      '/lang-weights': echoing('Accept-Language', 'accept-language'),
      '/lang-ties': echoing('Accept-Language', 'accept-language'),
      '/lang-other-weights': echoing('Accept-Language', 'accept-language'),
      '/lang-invalid': echoing('Accept-Language', 'accept-language'),
      '/foo': echoing('Foo', 'foo'),
      '/combined': echoing('Foo', 'foo'),
      '/encoding': echoing('Accept-Encoding', 'accept-encoding'),
      '/two-lines': echoing(['Foo', 'Bar'], 'foo', 'bar'),
      '/repeated': echoing('foo, FOO, Foo', 'foo'),
      '/star': respond({ 'cache-control': 'max-age=600', vary: '*' }),
      '/star-listed': respond({ 'cache-control': 'max-age=600', vary: ['Foo', '*'] }),
      '/validated': validating({ 'cache-control': 'max-age=10', vary: 'Abc', etag: '"v"' }),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test('several variants of one URL are stored side by side and each is served to its own requests', async () => {
    const en = await h.get('/lang', { 'accept-language': 'en' });
    await h.settle();
    const de = await h.get('/lang', { 'accept-language': 'de' });
    expect(cacheStatusOf(de)).toMatch(/^fwd=vary-miss/);
    await h.settle();
    const enAgain = await h.get('/lang', { 'accept-language': 'en' });
    const deAgain = await h.get('/lang', { 'accept-language': 'de' });
    expect([enAgain.headers['x-cache'], deAgain.headers['x-cache']]).toEqual(['HIT', 'HIT']);
    expect(enAgain.body.toString()).toBe(en.body.toString());
    expect(deAgain.body.toString()).toBe(de.body.toString());
    expect(h.seen('/lang')).toBe(2);
  });

  /** The rule of policy/accept-language.ts: the same members and weights, in the same order of preference. */
  test('Accept-Language: the same weights written in another order share the variant; the origin saw one value', async () => {
    const first = await h.get('/lang-weights', { 'accept-language': 'en;q=0.9, DE;q=0.8' });
    expect(first.body.toString()).toBe('accept-language=en;q=0.9,de;q=0.8');
    await h.settle();
    const again = await h.get('/lang-weights', { 'accept-language': 'de;q=0.8, en;q=0.9' });
    expect([again.headers['x-cache'], again.body.toString()]).toEqual(['HIT', first.body.toString()]);
    expect(h.seen('/lang-weights')).toBe(1);
  });

  test.each<[string, string, string, string]>([
    ['equal weights in another order (order may be priority, RFC 9110 §12.5.4)', '/lang-ties', 'en, de', 'de, en'],
    ['other weights in the same order', '/lang-other-weights', 'en;q=0.9, de;q=0.8', 'en;q=0.7, de;q=0.1'],
  ])('Accept-Language: %s is another variant', async (_rule, path, a, b) => {
    await h.get(path, { 'accept-language': a });
    await h.settle();
    const other = await h.get(path, { 'accept-language': b });
    expect(cacheStatusOf(other)).toMatch(/^fwd=vary-miss/);
    expect(h.seen(path)).toBe(2);
  });

  test('Accept-Language outside the grammar reaches the origin as the client sent it', async () => {
    const reply = await h.get('/lang-invalid', { 'accept-language': 'en;q=2, de' });
    expect(reply.body.toString()).toBe('accept-language=en;q=2, de');
  });

  test('a request without the selecting header does not match a variant that had it, and vice versa', async () => {
    await h.get('/foo', { foo: '1' });
    await h.settle();
    expect((await h.get('/foo')).headers['x-cache']).toBe('MISS');
    await h.settle();
    expect((await h.get('/foo')).body.toString()).toBe('foo=-');
    expect((await h.get('/foo', { foo: '1' })).body.toString()).toBe('foo=1');
    expect(h.seen('/foo')).toBe(2);
  });

  test.each<[string, string, Record<string, string | string[]>, Record<string, string | string[]>]>([
    ['whitespace around list members', '/foo', { foo: '1,2' }, { foo: ' 1 ,  2 ' }],
    ['several field lines equal one combined line', '/combined', { foo: '1, 2' }, { foo: ['1', '2'] }],
    [
      'Accept-Encoding: order and case do not matter',
      '/encoding',
      { 'accept-encoding': 'gzip, br' },
      { 'accept-encoding': 'BR,gzip' },
    ],
  ])('normalised before matching: %s', async (_rule, path, stored, asked) => {
    await h.get(path, stored);
    await h.settle();
    const before = h.seen(path);
    expect((await h.get(path, asked)).headers['x-cache']).toBe('HIT');
    expect(h.seen(path)).toBe(before);
  });

  test('Vary over several lines, and a name listed several times, act as one list', async () => {
    await h.get('/two-lines', { foo: '1', bar: '2' });
    await h.get('/repeated', { foo: '1' });
    await h.settle();
    expect((await h.get('/two-lines', { foo: '1', bar: '2' })).headers['x-cache']).toBe('HIT');
    expect((await h.get('/two-lines', { foo: '1', bar: '3' })).headers['x-cache']).toBe('MISS');
    expect((await h.get('/repeated', { foo: '1' })).headers['x-cache']).toBe('HIT');
  });

  test.each(['/star', '/star-listed'])('Vary: * never matches, so %s is never stored', async (path) => {
    const first = await h.get(path);
    expect(cacheStatusOf(first)).toMatch(/detail=vary-star/);
    await h.settle();
    expect((await h.get(path)).headers['x-cache']).toBe('MISS');
    expect(h.seen(path)).toBe(2);
  });

  test('revalidating a variant sends its selecting header with the validator', async () => {
    await h.get('/validated', { abc: '123' });
    await h.settle();
    clock.advance(20);
    const reply = await h.get('/validated', { abc: '123' });
    expect(reply.headers['x-cache']).toBe('REVALIDATED');
    const seen = h.origin.requests.at(-1);
    expect(seen?.headers.abc).toBe('123');
    expect(seen?.headers['if-none-match']).toBe('"v"');
  });

  test('another variant is not validated with the stored variant’s ETag', async () => {
    const reply = await h.get('/validated', { abc: '456' });
    expect(reply.headers['x-cache']).toBe('MISS');
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBeUndefined();
  });
});
