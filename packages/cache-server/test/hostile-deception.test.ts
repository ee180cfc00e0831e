/**
 * Web cache deception (issue 12.7): a user's own page, sent with only Last-Modified in answer to
 * a request carrying Cookie or Authorization, must not be given a heuristic lifetime and served
 * to the next user. Explicit freshness or `public` from the origin still allow storing, and a
 * Vary naming the credential keys the response on it.
 */
import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/** Long ago, so that the heuristic (10% of the time since) would give a day. */
const LAST_MODIFIED = new Date(Date.now() - 365 * 86_400_000).toUTCString();

/** The origin's per-user page: whose it is comes from the Cookie or Authorization it was asked with. */
function accountPage(extra: http.OutgoingHttpHeaders = {}) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const user = /session=(\w+)/.exec(req.headers.cookie ?? '')?.[1] ?? req.headers.authorization ?? 'anonymous';
    const body = `settings of ${user}`;
    res.writeHead(200, {
      'content-type': 'text/css',
      'content-length': body.length,
      'last-modified': LAST_MODIFIED,
      ...extra,
    });
    res.end(body);
  };
}

describe('web cache deception: a per-user page is not shared on a heuristic lifetime', () => {
  const servers = useOriginAndCache({
    '/account/settings/x.css': accountPage(),
    // RFC 9111 §3.5 lets must-revalidate store a response to Authorization: not on a heuristic.
    '/account/token/x.css': accountPage({ 'cache-control': 'must-revalidate' }),
    '/explicit/x.css': accountPage({ 'cache-control': 'max-age=60' }),
    '/public/x.css': accountPage({ 'cache-control': 'public' }),
    '/varies/x.css': accountPage({ vary: 'Cookie' }),
    '/static/x.css': accountPage(),
  });
  /** One request, then until its fetch (and commit, if any) has finished. */
  const get = async (path: string, headers: http.OutgoingHttpHeaders = {}) => {
    const reply = await request(servers.cache.url, path, { headers });
    await waitFor(() => servers.cache.proxy.inFlight.size === 0, `the fetch of ${path}`);
    return reply;
  };

  test.each([
    ['Cookie', { cookie: 'session=alice' }, { cookie: 'session=bob' }, '/account/settings/x.css'],
    [
      'Authorization (and must-revalidate)',
      { authorization: 'alice' },
      { authorization: 'bob' },
      '/account/token/x.css',
    ],
  ])(
    'with %s: the next user gets their own page from the origin, not the first one’s',
    async (_f, alice, bob, path) => {
      const first = await get(path, alice);
      expect(first.body.toString()).toBe('settings of alice');
      expect(first.headers['cache-status']).toMatch(/detail=credentials-without-freshness/);
      const second = await get(path, bob);
      expect(second.body.toString()).toBe('settings of bob');
      expect(second.headers['x-cache']).toBe('MISS');
      const anonymous = await get(path);
      expect(anonymous.body.toString()).toBe('settings of anonymous');
      expect(servers.origin.count(path)).toBe(3);
    },
  );

  test('without credentials the same response is kept on its heuristic lifetime (RFC 9111 §4.2.2)', async () => {
    expect((await get('/static/x.css')).headers['x-cache']).toBe('MISS');
    const again = await get('/static/x.css');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(servers.origin.count('/static/x.css')).toBe(1);
  });

  test.each([
    ['explicit freshness (max-age)', '/explicit/x.css'],
    ['public', '/public/x.css'],
  ])('%s from the origin still allows storing it', async (_label, path) => {
    await get(path, { cookie: 'session=alice' });
    const next = await get(path, { cookie: 'session=bob' });
    expect(next.headers['x-cache']).toBe('HIT');
    expect(servers.origin.count(path)).toBe(1);
  });

  test('Vary: Cookie keys it on the cookie: the same user hits, another misses', async () => {
    await get('/varies/x.css', { cookie: 'session=alice' });
    const alice = await get('/varies/x.css', { cookie: 'session=alice' });
    expect([alice.headers['x-cache'], alice.body.toString()]).toEqual(['HIT', 'settings of alice']);
    const bob = await get('/varies/x.css', { cookie: 'session=bob' });
    expect([bob.headers['x-cache'], bob.body.toString()]).toEqual(['MISS', 'settings of bob']);
  });
});
