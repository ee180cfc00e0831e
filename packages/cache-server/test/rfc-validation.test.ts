import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Route } from './helpers/test-origin.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, sequence, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

const BODY = 'the stored body';
const LAST_MODIFIED = httpDate(Date.UTC(2025, 0, 1));

/** Fields describing the stored body's bytes (RFC 9111 §3.2), as the first response sends them. */
const STORED_BODY_FIELDS = {
  'content-md5': 'dGhlIHN0b3JlZCBib2R5',
  digest: 'sha-256=c3RvcmVk',
  'content-digest': 'sha-256=:c3RvcmVk:',
  'repr-digest': 'sha-256=:c3RvcmVk:',
  'content-encoding': 'identity',
};

const CLIENT_FIELDS = {
  'cache-control': 'max-age=600',
  etag: '"c"',
  'content-type': 'text/plain',
  ...STORED_BODY_FIELDS,
};

/** 200 with `headers` first; every later request gets a 304 carrying `update`. */
function thenNotModified(headers: Record<string, string>, update: Record<string, string>): Route {
  return sequence(respond(headers, BODY), respond(update, '', 304));
}

/** 200 with `first`, then a 200 (to any method) with `second`: used for HEAD responses. */
function thenOk(first: Record<string, string>, second: Record<string, string>): Route {
  return sequence(respond(first, BODY), respond(second, BODY));
}

describe('validation (RFC 9111 §4.3, RFC 9110 §13)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '/strong': thenNotModified(
        { 'cache-control': 'max-age=10', etag: '"a"', 'x-old': '1' },
        { 'cache-control': 'max-age=100', etag: '"a"', 'x-new': '2' },
      ),
      '/length': thenNotModified(
        { 'cache-control': 'max-age=10', etag: '"a"' },
        { 'cache-control': 'max-age=100', etag: '"a"', 'content-length': '0' },
      ),
      '/digests': thenNotModified(
        { 'cache-control': 'max-age=10', etag: '"d"', ...STORED_BODY_FIELDS, 'x-old': '1' },
        {
          'cache-control': 'max-age=100',
          etag: '"d"',
          'content-md5': 'bm90IHRoaXMgYm9keQ==',
          digest: 'sha-256=bm90',
          'content-digest': 'sha-256=:bm90:',
          'repr-digest': 'sha-256=:bm90:',
          'content-encoding': 'br',
          'x-old': '2',
        },
      ),
      '/digests-client': respond(CLIENT_FIELDS, BODY),
      '/digests-miss': respond(CLIENT_FIELDS, BODY),
      '/weak': thenNotModified({ 'cache-control': 'max-age=10', etag: 'W/"a"' }, { etag: 'W/"a"' }),
      '/other-etag': sequence(
        respond({ 'cache-control': 'max-age=10', etag: '"a"' }, BODY),
        respond({ etag: '"b"' }, '', 304),
        respond({ 'cache-control': 'max-age=10', etag: '"b"' }, 'the new body'),
      ),
      '/dated': validating({ 'cache-control': 'max-age=10', 'last-modified': LAST_MODIFIED }, BODY),
      '/client': respond({ 'cache-control': 'max-age=600', etag: '"a"', 'last-modified': LAST_MODIFIED }, BODY),
      '/no-last-modified': respond({ 'cache-control': 'max-age=600' }, BODY),
      '/client-weak': respond({ 'cache-control': 'max-age=600', etag: 'W/"a"' }, BODY),
      '/miss-conditional': respond({ 'cache-control': 'max-age=600', etag: '"m"' }, BODY),
      '/head-304': validating({ 'cache-control': 'max-age=10', etag: '"h"' }, BODY),
      '/brings-private': validating({ 'cache-control': 'max-age=10', etag: '"p"' }, BODY, {
        'cache-control': 'private, max-age=100',
        etag: '"p"',
      }),
      '/brings-no-store': validating({ 'cache-control': 'max-age=10', etag: '"n"' }, BODY, {
        'cache-control': 'no-store, max-age=100',
        etag: '"n"',
      }),
      '/head-brings-no-store': thenOk(
        { 'cache-control': 'max-age=10', etag: '"hn"' },
        { 'cache-control': 'no-store, max-age=100', etag: '"hn"' },
      ),
      '/head-200': thenOk(
        { 'cache-control': 'max-age=10', etag: '"h"', 'x-head': '1' },
        { 'cache-control': 'max-age=100', etag: '"h"', 'x-head': '2' },
      ),
      '/head-changed': thenOk(
        { 'cache-control': 'max-age=10', etag: '"h1"' },
        { 'cache-control': 'max-age=10', etag: '"h2"' },
      ),
      '/head-no-cache': validating({ 'cache-control': 'max-age=600', etag: '"n"' }, BODY),
    });
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  async function prime(path: string, secondsLater = 20): Promise<void> {
    await h.get(path);
    await h.settle();
    clock.advance(secondsLater);
  }

  test('a 304 freshens the stored response and updates its headers (§4.3.4)', async () => {
    await prime('/strong');
    const validated = await h.get('/strong');
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBe('"a"');
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
    expect(validated.body.toString()).toBe(BODY);
    expect(validated.headers['x-new']).toBe('2');
    expect(validated.headers['x-old']).toBe('1');
    expect(validated.headers.age).toBe('0');
    expect(cacheStatusOf(validated)).toMatch(/^fwd=stale; fwd-status=304; ttl=100; stored$/);
    clock.advance(50);
    const hit = await h.get('/strong');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-new']).toBe('2');
  });

  test('a 304 never changes the stored Content-Length (§3.2)', async () => {
    await prime('/length');
    const validated = await h.get('/length');
    expect(validated.headers['content-length']).toBe(String(BODY.length));
    expect(validated.body.toString()).toBe(BODY);
    await h.settle();
    const hit = await h.get('/length');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.toString()).toBe(BODY);
  });

  test('a 304 never changes the digests and coding of the stored body; other fields are updated (§3.2)', async () => {
    await prime('/digests');
    const validated = await h.get('/digests');
    await h.settle();
    clock.advance(50);
    const hit = await h.get('/digests');
    for (const reply of [validated, hit]) {
      expect(reply.headers).toMatchObject({
        ...STORED_BODY_FIELDS,
        'x-old': '2',
        'content-length': String(BODY.length),
      });
      expect(reply.body.toString()).toBe(BODY);
    }
    expect([validated.headers['x-cache'], hit.headers['x-cache']]).toEqual(['REVALIDATED', 'HIT']);
  });

  test.each<[string, string]>([
    ['from a stored response', '/digests-client'],
    ['from a response just fetched (a conditional miss)', '/digests-miss'],
  ])('a 304 for a client %s leaves out the fields describing the body (RFC 9110 §15.4.5)', async (_rule, path) => {
    if (path === '/digests-client') await prime(path, 1);
    const reply = await h.get(path, { 'if-none-match': '"c"' });
    expect(reply.status).toBe(304);
    expect(reply.headers.etag).toBe('"c"');
    expect(reply.headers['cache-control']).toBe('max-age=600');
    for (const name of [...Object.keys(STORED_BODY_FIELDS), 'content-type', 'content-length', 'transfer-encoding']) {
      expect([name, reply.headers[name]]).toEqual([name, undefined]);
    }
  });

  test('a weak ETag is sent as it is and a weak 304 selects it (weak comparison, §4.3.4)', async () => {
    await prime('/weak');
    const validated = await h.get('/weak');
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBe('W/"a"');
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
  });

  test('a 304 for another strong ETag selects nothing: the cache asks again unconditionally', async () => {
    await prime('/other-etag');
    const reply = await h.get('/other-etag');
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('the new body');
    const [, conditional, unconditional] = h.origin.requests.filter((r) => r.url === '/other-etag');
    expect(conditional?.headers['if-none-match']).toBe('"a"');
    expect(unconditional?.headers['if-none-match']).toBeUndefined();
  });

  test('Last-Modified alone: If-Modified-Since is sent, a 304 revalidates', async () => {
    await prime('/dated');
    const validated = await h.get('/dated');
    expect(h.origin.requests.at(-1)?.headers['if-modified-since']).toBe(LAST_MODIFIED);
    expect(validated.headers['x-cache']).toBe('REVALIDATED');
  });

  test.each<[string, Record<string, string>, number]>([
    ['If-None-Match with the stored strong ETag → 304', { 'if-none-match': '"a"' }, 304],
    [
      'If-None-Match with a weak form of it → 304 (weak comparison, RFC 9110 §13.1.2)',
      { 'if-none-match': 'W/"a"' },
      304,
    ],
    ['If-None-Match listing it among others → 304', { 'if-none-match': '"x", "a", "y"' }, 304],
    ['If-None-Match: * → 304', { 'if-none-match': '*' }, 304],
    ['If-None-Match with another ETag → 200', { 'if-none-match': '"b"' }, 200],
    ['If-Modified-Since equal to Last-Modified → 304', { 'if-modified-since': LAST_MODIFIED }, 304],
    ['If-Modified-Since before Last-Modified → 200', { 'if-modified-since': httpDate(Date.UTC(2024, 0, 1)) }, 200],
    [
      'If-None-Match takes precedence over If-Modified-Since',
      { 'if-none-match': '"b"', 'if-modified-since': LAST_MODIFIED },
      200,
    ],
  ])('a client conditional answered from the cache: %s', async (_rule, headers, status) => {
    if (h.seen('/client') === 0) await prime('/client', 1);
    const reply = await h.get('/client', headers);
    expect(reply.status).toBe(status);
    expect(reply.headers['x-cache']).toBe('HIT');
    if (status === 304) {
      expect(reply.body.length).toBe(0);
      expect(reply.headers.etag).toBe('"a"');
      expect(reply.headers['content-length']).toBeUndefined();
    }
    expect(h.seen('/client')).toBe(1);
  });

  /**
   * RFC 9111 §4.3.2: without Last-Modified, If-Modified-Since is evaluated against the stored
   * Date (RFC 9110 §13.1.3: false, so 304, when the representation is not newer than the date).
   */
  test.each<[string, number, number]>([
    ['a date after the response’s Date → 304', 10, 304],
    ['the response’s Date itself → 304', 0, 304],
    ['a date before it → the full response (it may have changed since)', -3000, 200],
  ])('a fresh response without Last-Modified, If-Modified-Since %s', async (_rule, offset, status) => {
    if (h.seen('/no-last-modified') === 0) await prime('/no-last-modified', 1);
    const date = Date.parse(String((await h.get('/no-last-modified')).headers.date));
    const reply = await h.get('/no-last-modified', { 'if-modified-since': httpDate(date + offset * 1000) });
    expect([reply.status, reply.headers['x-cache']]).toEqual([status, 'HIT']);
    expect(reply.body.toString()).toBe(status === 304 ? '' : BODY);
    expect(h.seen('/no-last-modified')).toBe(1);
  });

  test('a stored weak ETag matches If-None-Match weakly', async () => {
    await prime('/client-weak', 1);
    expect((await h.get('/client-weak', { 'if-none-match': '"a"' })).status).toBe(304);
  });

  test('If-Match and If-Unmodified-Since are the origin’s to evaluate (§4.3.2)', async () => {
    const reply = await h.get('/client', { 'if-match': '"a"' });
    expect(reply.headers['x-cache']).toBe('BYPASS');
    expect(cacheStatusOf(reply)).toMatch(/^fwd=request/);
    expect(h.origin.requests.at(-1)?.headers['if-match']).toBe('"a"');
  });

  test('a conditional request on a miss: the full response is stored, the client gets its 304', async () => {
    const reply = await h.get('/miss-conditional', { 'if-none-match': '"m"' });
    expect(reply.status).toBe(304);
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBeUndefined();
    await h.settle();
    const full = await h.get('/miss-conditional');
    expect(full.headers['x-cache']).toBe('HIT');
    expect(full.body.toString()).toBe(BODY);
  });

  test('a HEAD on a stale entry is validated with a conditional HEAD; the 304 freshens the GET response', async () => {
    await prime('/head-304');
    const head = await h.get('/head-304', {}, 'HEAD');
    expect(head.headers['x-cache']).toBe('REVALIDATED');
    expect(head.headers['content-length']).toBe(String(BODY.length));
    const seen = h.origin.requests.at(-1);
    expect([seen?.method, seen?.headers['if-none-match']]).toEqual(['HEAD', '"h"']);
    const get = await h.get('/head-304');
    expect(get.headers['x-cache']).toBe('HIT');
    expect(get.body.toString()).toBe(BODY);
  });

  test('a 200 to a HEAD with the same validators freshens the stored GET response (§4.3.5)', async () => {
    await prime('/head-200');
    const head = await h.get('/head-200', {}, 'HEAD');
    expect(head.headers['x-cache']).toBe('REVALIDATED');
    expect(head.headers['x-head']).toBe('2');
    clock.advance(50);
    const get = await h.get('/head-200');
    expect(get.headers['x-cache']).toBe('HIT');
    expect(get.headers['x-head']).toBe('2');
    expect(get.body.toString()).toBe(BODY);
  });

  test('a 200 to a HEAD with another ETag invalidates the stored GET response (§4.3.5)', async () => {
    await prime('/head-changed');
    const head = await h.get('/head-changed', {}, 'HEAD');
    expect(head.headers.etag).toBe('"h2"');
    expect(head.headers['x-cache']).toBe('EXPIRED');
    expect((await h.get('/head-changed')).headers['x-cache']).toBe('MISS');
  });

  // FINDINGS F8: the refresh's fields replace the stored ones (§4.3.4); once they say a shared
  // cache must not keep the response (§3, §5.2.2.5, §5.2.2.7), the entry is not used again.
  test.each([
    ['a 304 that brings private', '/brings-private', 'GET'],
    ['a 304 that brings no-store', '/brings-no-store', 'GET'],
    ['a 200 to a HEAD that brings no-store (§4.3.5)', '/head-brings-no-store', 'HEAD'],
  ])('%s answers its own request from the stored body; the entry is not used again', async (_case, path, method) => {
    await prime(path);
    const refreshed = await h.get(path, {}, method);
    expect(refreshed.headers['x-cache']).toBe('REVALIDATED');
    const asked = h.seen(path);
    // The origin is asked again (unconditionally: what it answers now may be stored anew).
    const next = await h.get(path);
    expect(next.headers['x-cache']).toBe('MISS');
    expect(next.body.toString()).toBe(BODY);
    expect(h.seen(path)).toBe(asked + 1);
    expect(h.origin.requests.at(-1)?.headers['if-none-match']).toBeUndefined();
  });

  test('a HEAD with no-cache on a fresh entry: a HEAD goes to the origin, not a GET', async () => {
    await prime('/head-no-cache', 1);
    expect((await h.get('/head-no-cache', {}, 'HEAD')).headers['x-cache']).toBe('HIT');
    const head = await h.get('/head-no-cache', { 'cache-control': 'no-cache' }, 'HEAD');
    expect(head.headers['x-cache']).toBe('REVALIDATED');
    expect(cacheStatusOf(head)).toMatch(/^fwd=request; fwd-status=304/);
    expect(h.origin.requests.map((r) => `${r.method} ${r.url}`).filter((r) => r.endsWith('/head-no-cache'))).toEqual([
      'GET /head-no-cache',
      'HEAD /head-no-cache',
    ]);
  });
});
