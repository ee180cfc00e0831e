import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * Issue 12.6: a POST goes to the origin with X-Forwarded-Host made from the client's Host (and
 * any other field the key does not include), as applications need. Its response is never stored,
 * even one RFC 9110 §9.3.3 would let answer later GETs (explicit freshness, Content-Location of its
 * own URL): an origin that builds links from X-Forwarded-Host would otherwise hand an attacker's
 * host to everyone who GETs the URL.
 */
describe('a POST response made from the client Host never answers later GETs (issue 12.6)', () => {
  const env = useOriginAndCache({
    '/article': (req, res) => {
      const host = req.headers['x-forwarded-host'] ?? 'origin.internal';
      const body = `<a href="https://${String(host)}/next">next</a> (${req.method})`;
      res.writeHead(200, {
        'cache-control': 'max-age=600',
        'content-location': '/article',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    },
  });

  test('the attacker POSTs with Host: evil.example; the next GET gets the origin’s own answer', async () => {
    const attack = await request(env.cache.url, '/article', {
      method: 'POST',
      headers: { host: 'evil.example', 'content-length': 1 },
      body: 'x',
    });
    // The POST itself went as the application expects: with the client's host.
    expect(attack.body.toString()).toContain('https://evil.example/next');
    expect(env.origin.requests.at(-1)?.headers['x-forwarded-host']).toBe('evil.example');
    // Had the cache kept it, the victim would meet it once committed: wait for that first.
    if (/stored/.test(String(attack.headers['cache-status']))) {
      await waitFor(async () => (await env.cache.store.lookup(`${env.origin.url}/article`)).length > 0, 'the entry');
    }

    const victim = await request(env.cache.url, '/article', { headers: { host: 'www.example' } });
    expect(victim.body.toString()).not.toContain('evil.example');
    expect(victim.headers['x-cache']).toBe('MISS');
    expect(attack.headers['cache-status']).not.toMatch(/stored/);
    // The cache's own fetch carries no unkeyed field: the link is the origin's own.
    expect(victim.body.toString()).toBe('<a href="https://origin.internal/next">next</a> (GET)');
    expect(env.origin.requests.at(-1)?.headers['x-forwarded-host']).toBeUndefined();
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the GET response to be stored');
    const hit = await request(env.cache.url, '/article', { headers: { host: 'evil.example' } });
    expect([hit.headers['x-cache'], hit.body.toString()]).toEqual(['HIT', victim.body.toString()]);
  });
});
