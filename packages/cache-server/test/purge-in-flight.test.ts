import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { admin, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * Issue 12.3: a purge abandons the origin fetches in flight for what it removes. Such a fetch
 * brings what the origin had before the purge: a client that comes after the purge must not join
 * it, and what it commits must not outlive the purge.
 *
 * The origin answers the n-th request for a path with `v<n>`, and holds the first two answers until
 * the test releases them: paths under /head/ before the response head, under /body/ after the head
 * (the body is on its way). Paths under /red/ and /blue/ carry that tag.
 */
interface Held {
  res: http.ServerResponse;
  headers: http.OutgoingHttpHeaders;
  body: string;
}

describe('a purge abandons the fetches in flight for what it removes (issue 12.3)', () => {
  const held = new Map<string, Held[]>();
  const seen = new Map<string, number>();
  const env = useOriginAndCache({
    '*': (req, res) => {
      const path = req.url ?? '/';
      const n = (seen.get(path) ?? 0) + 1;
      seen.set(path, n);
      const tag = /\/(red|blue)\//.exec(path)?.[1];
      const headers = { 'cache-control': 'max-age=600', 'content-length': 2, ...(tag ? { 'surrogate-key': tag } : {}) };
      // Requests after the first two (the test's checks) are answered at once.
      if (n > 2) return void res.writeHead(200, headers).end(`v${n}`);
      if (path.includes('/body/')) {
        res.writeHead(200, headers);
        res.flushHeaders();
      }
      held.set(path, [...(held.get(path) ?? []), { res, headers, body: `v${n}` }]);
    },
  });

  /** Answers every held request for `path`, in the order they came. */
  const release = (path: string) => {
    for (const { res, headers, body } of held.get(path) ?? []) {
      if (!res.headersSent) res.writeHead(200, headers);
      res.end(body);
    }
    held.set(path, []);
  };
  const arrived = (path: string, count: number) =>
    waitFor(() => (seen.get(path) ?? 0) >= count, `${count} request(s) for ${path} at the origin`);
  const key = (path: string) => `${env.origin.url}${path}`;
  const settled = () => waitFor(() => env.cache.proxy.inFlight.size === 0, 'the fetches in flight to settle');

  /** A client asks, the purge comes, a second client asks: it must start its own fetch. */
  async function purgeMidFetch(path: string, purge: () => Promise<unknown>) {
    const first = request(env.cache.url, path);
    await arrived(path, 1);
    if (path.includes('/body/'))
      await waitFor(() => env.cache.proxy.inFlight.get(key(path))?.responded === true, 'the head');
    expect((await purge()) as { status: number }).toMatchObject({ status: 200 });
    const second = request(env.cache.url, path);
    await arrived(path, 2);
    release(path);
    expect((await first).body.toString()).toBe('v1');
    expect((await second).body.toString()).toBe('v2');
    await settled();
    // Whatever is stored now, it is not what the purge removed.
    expect((await request(env.cache.url, path)).body.toString()).not.toBe('v1');
  }

  test('PURGE of the URL before the response head came', async () => {
    await purgeMidFetch('/head/url', () => admin(env.cache.url, '/head/url', { method: 'PURGE' }));
  });

  test('PURGE of the URL while the body is on its way', async () => {
    await purgeMidFetch('/body/url', () => admin(env.cache.url, '/body/url', { method: 'PURGE' }));
  });

  test('a prefix purge', async () => {
    await purgeMidFetch('/body/prefix/a', () => admin(env.cache.url, '/body/prefix/*', { method: 'PURGE' }));
  });

  test('purge all', async () => {
    await purgeMidFetch('/head/all', () => admin(env.cache.url, `${PREFIX}/entries?all=1`, { method: 'DELETE' }));
  });

  test('a tag purge abandons the fetch whose response carries the tag, and only that one', async () => {
    const [red, blue] = ['/body/red/tagged', '/body/blue/kept'];
    const redFirst = request(env.cache.url, red);
    const blueFirst = request(env.cache.url, blue);
    await arrived(red, 1);
    await arrived(blue, 1);
    await waitFor(
      () =>
        env.cache.proxy.inFlight.get(key(red))?.responded === true &&
        env.cache.proxy.inFlight.get(key(blue))?.responded === true,
      'both heads',
    );
    expect((await admin(env.cache.url, `${PREFIX}/entries?tag=red`, { method: 'DELETE' })).status).toBe(200);
    expect(env.cache.proxy.inFlight.has(key(red))).toBe(false);
    expect(env.cache.proxy.inFlight.has(key(blue))).toBe(true);
    const redSecond = request(env.cache.url, red);
    const blueSecond = request(env.cache.url, blue);
    await arrived(red, 2);
    release(red);
    release(blue);
    expect((await Promise.all([redFirst, redSecond, blueFirst, blueSecond])).map((r) => r.body.toString())).toEqual([
      'v1',
      'v2',
      'v1',
      'v1',
    ]);
    expect(seen.get(blue)).toBe(1);
    await settled();
    expect((await request(env.cache.url, red)).body.toString()).not.toBe('v1');
    const hit = await request(env.cache.url, blue);
    expect([hit.headers['x-cache'], hit.body.toString()]).toEqual(['HIT', 'v1']);
  });

  test('a tag purge before the response head came counts the fetch in: what it commits with the tag goes', async () => {
    await purgeMidFetch('/head/red/early', () =>
      admin(env.cache.url, `${PREFIX}/entries?tag=red`, { method: 'DELETE' }),
    );
  });

  test('a soft purge removes nothing, so a client after it still joins the fetch', async () => {
    const path = '/head/soft';
    const first = request(env.cache.url, path);
    await arrived(path, 1);
    expect((await admin(env.cache.url, `${path}`, { method: 'PURGE', headers: { 'soft-purge': '1' } })).status).toBe(
      200,
    );
    const second = request(env.cache.url, path);
    await waitFor(() => env.cache.proxy.inFlight.has(key(path)), 'the fetch');
    release(path);
    expect((await first).body.toString()).toBe('v1');
    expect((await second).body.toString()).toBe('v1');
    expect(seen.get(path)).toBe(1);
  });
});
