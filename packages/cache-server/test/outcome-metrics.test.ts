import { describe, expect, test } from '@jest/globals';
import { metricValue, PREFIX } from './helpers/admin.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';

/**
 * Issue 17: metrics count each exchange's Outcome, as the route that answered it recorded it,
 * not what a regex finds in the headers on the wire. The headers an origin (or a cache before
 * us) sends look like ours, and must not be counted as ours.
 */
describe('metrics read the Outcome, never the response headers', () => {
  const env = useOriginAndCache({
    // An upstream cache collapsed this request: its member of Cache-Status says so, ours does not.
    '/upstream-collapsed': fixed('u', { 'cache-control': 'no-store', 'cache-status': 'cdn; collapsed; fwd=miss' }),
    // An origin that happens to send the header our own errors carry.
    '/looks-like-an-error': fixed('e', { 'cache-control': 'no-store', 'x-cache-error': 'CACHE_ERR_ORIGIN_TIMEOUT' }),
    '/stored': fixed('0123456789', { 'cache-control': 'max-age=600' }),
  });

  async function metrics(): Promise<string> {
    return (await request(env.cache.url, `${PREFIX}/metrics`)).body.toString();
  }

  /** Requests the observer has seen (it reports each one when its response closes). */
  async function settle(count: number): Promise<void> {
    await waitFor(
      async () => (metricValue(await metrics(), 'simple_cache_requests_total', { cache_status: 'miss' }) ?? 0) >= count,
      'the misses to be reported',
    );
  }

  test('an upstream cache’s `collapsed` is not ours', async () => {
    const reply = await request(env.cache.url, '/upstream-collapsed');
    expect(reply.headers['cache-status']).toMatch(/^cdn; collapsed; fwd=miss, simple-cache; fwd=uri-miss/);
    await settle(1);
    expect(metricValue(await metrics(), 'simple_cache_collapsed_requests_total') ?? 0).toBe(0);
  });

  test('an origin’s X-Cache-Error is not one of our errors; its body bytes count as from the origin', async () => {
    const before = await metrics();
    const reply = await request(env.cache.url, '/looks-like-an-error');
    expect(reply.status).toBe(200);
    expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TIMEOUT');
    await settle(2);
    const after = await metrics();
    expect(metricValue(after, 'simple_cache_errors_total', { code: 'CACHE_ERR_ORIGIN_TIMEOUT' })).toBeUndefined();
    const fromOrigin = (text: string) =>
      metricValue(text, 'simple_cache_response_bytes_total', { source: 'origin' }) ?? 0;
    expect(fromOrigin(after) - fromOrigin(before)).toBe(1);
  });

  test('a HEAD hit counts no body bytes; a GET hit counts its body, from the cache', async () => {
    await request(env.cache.url, '/stored');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const fromCache = async () =>
      metricValue(await metrics(), 'simple_cache_response_bytes_total', { source: 'cache' }) ?? 0;
    const hits = async () => metricValue(await metrics(), 'simple_cache_requests_total', { cache_status: 'hit' }) ?? 0;
    const before = await fromCache();
    const hitsBefore = await hits();
    expect((await request(env.cache.url, '/stored', { method: 'HEAD' })).headers['x-cache']).toBe('HIT');
    expect((await request(env.cache.url, '/stored')).headers['x-cache']).toBe('HIT');
    await waitFor(async () => (await hits()) === hitsBefore + 2, 'both hits to be counted');
    expect((await fromCache()) - before).toBe(10);
  });
});
