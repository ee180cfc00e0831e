import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';
import { useOriginAndCache } from './helpers/cache.js';

/** Request fields a careless origin builds its page from (absolute links, rewrites, method overrides). */
const REFLECTED = [
  'x-forwarded-host',
  'x-forwarded-scheme',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'forwarded',
  'x-host',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

/** What a careless origin does: puts those fields into a cacheable page. */
function reflect(req: http.IncomingMessage): string {
  const seen = REFLECTED.filter((name) => req.headers[name] !== undefined).map((n) => `${n}=${req.headers[n]}`);
  return `page for ${req.url} [${seen.join(';')}] host=${req.headers.host}`;
}

describe('cache poisoning: nothing outside the key changes what is stored for others', () => {
  let releaseCollapsed: () => void = () => {};
  let cookieCounter = 0;

  const env = useOriginAndCache({
    '*': (req, res) => {
      const body = reflect(req);
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
    '/login': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': `session=user${++cookieCounter}` });
      res.end(`welcome user${cookieCounter}`);
    },
    '/public-cookie': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'public, max-age=60', 'set-cookie': `visitor=${++cookieCounter}` });
      res.end('the same page for everybody');
    },
    '/collapsed-cookie': (_req, res) => {
      releaseCollapsed = () => {
        res.writeHead(200, { 'cache-control': 'public, max-age=60', 'set-cookie': `visitor=${++cookieCounter}` });
        res.end('shared page');
      };
    },
    '/vary': (req, res) => {
      const language = String(req.headers['accept-language'] ?? 'none');
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      res.end(`page in ${language}`);
    },
  });

  const settled = () => waitFor(() => env.cache.proxy.inFlight.size === 0, 'pending stores');

  test.each(REFLECTED.map((name) => [name]))(
    '%s from an attacker never reaches the origin, so the stored page is the same for everybody',
    async (name) => {
      const path = `/page-${name}`;
      const attacker = await request(env.cache.url, path, { headers: { [name]: 'evil.example' } });
      expect(attacker.headers['x-cache']).toBe('MISS');
      await settled();
      const victim = await request(env.cache.url, path);
      expect(victim.headers['x-cache']).toBe('HIT');
      expect(victim.body.toString()).toBe(`page for ${path} [] host=${new URL(env.origin.url).host}`);
      expect(attacker.body.equals(victim.body)).toBe(true);
    },
  );

  test('the client’s Host never reaches the origin on a fetch for the cache', async () => {
    const { statuses, text } = await rawExchange(
      env.cache.url,
      'GET /hosts HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(statuses).toEqual([200]);
    expect(text).toContain(`page for /hosts [] host=${new URL(env.origin.url).host}`);
    expect(env.origin.requests.filter((r) => r.url === '/hosts').map((r) => r.headers['x-forwarded-host'])).toEqual([
      undefined,
    ]);
  });

  test('a second Host line is refused before anything is fetched (RFC 9112 §3.2)', async () => {
    const { statuses, text } = await rawExchange(
      env.cache.url,
      'GET /two-hosts HTTP/1.1\r\nHost: evil.example\r\nHost: evil2.example\r\nConnection: close\r\n\r\n',
    );
    expect(statuses).toEqual([400]);
    expect(text).toMatch(/x-cache-error: CACHE_ERR_BAD_HOST/i);
    expect(env.origin.count('/two-hosts')).toBe(0);
  });

  test('X-HTTP-Method-Override on a GET is neither honoured nor forwarded: no invalidation, a normal hit', async () => {
    await request(env.cache.url, '/override-target');
    await settled();
    const overridden = await request(env.cache.url, '/override-target', {
      headers: { 'x-http-method-override': 'DELETE' },
    });
    expect(overridden.headers['x-cache']).toBe('HIT');
    expect(env.origin.count('/override-target')).toBe(1);
  });

  test('pass-through requests (never stored) keep those fields: a POST may still carry a method override', async () => {
    await request(env.cache.url, '/form', { method: 'POST', headers: { 'x-http-method-override': 'PUT' }, body: 'x' });
    expect(env.origin.requests.at(-1)?.headers['x-http-method-override']).toBe('PUT');
  });

  describe('Set-Cookie: stored only when the origin allows sharing, and never served from the cache', () => {
    test('max-age alone: not stored, every user gets their own response and cookie', async () => {
      const alice = await request(env.cache.url, '/login');
      await settled();
      const bob = await request(env.cache.url, '/login');
      expect(alice.headers['set-cookie']).toEqual(['session=user1']);
      expect(bob.headers['set-cookie']).toEqual(['session=user2']);
      expect(bob.headers['x-cache']).toBe('MISS');
      expect(bob.headers['cache-status']).toMatch(/detail=set-cookie/);
      expect(bob.body.toString()).toBe('welcome user2');
    });

    test('public: stored, and the hit carries no Set-Cookie', async () => {
      const first = await request(env.cache.url, '/public-cookie');
      expect(first.headers['set-cookie']).toBeDefined();
      await settled();
      const hit = await request(env.cache.url, '/public-cookie');
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.headers['set-cookie']).toBeUndefined();
      const [entry] = await env.cache.store.lookup(`${env.origin.url}/public-cookie`);
      expect(entry?.headers['set-cookie']).toBeUndefined();
    });

    test('collapsed clients never get the cookie of the client whose request fetched it', async () => {
      const replies = Array.from({ length: 5 }, () => request(env.cache.url, '/collapsed-cookie'));
      await waitFor(() => env.origin.count('/collapsed-cookie') === 1, 'the origin fetch');
      await waitFor(async () => {
        const count = await new Promise<number>((resolve) =>
          env.cache.app.server.getConnections((_e, n) => resolve(n)),
        );
        return count === 5;
      }, 'all five clients');
      releaseCollapsed();
      const results = await Promise.all(replies);
      expect(env.origin.count('/collapsed-cookie')).toBe(1);
      expect(results.filter((r) => r.headers['set-cookie'] !== undefined)).toHaveLength(1);
      for (const reply of results) expect(reply.body.toString()).toBe('shared page');
    });
  });

  test('Vary is honoured: each Accept-Language gets its own variant, concurrently too', async () => {
    const [en, fr] = await Promise.all([
      request(env.cache.url, '/vary', { headers: { 'accept-language': 'en' } }),
      request(env.cache.url, '/vary', { headers: { 'accept-language': 'fr' } }),
    ]);
    expect(en.body.toString()).toBe('page in en');
    expect(fr.body.toString()).toBe('page in fr');
    await settled();
    const enAgain = await request(env.cache.url, '/vary', { headers: { 'accept-language': 'en' } });
    const none = await request(env.cache.url, '/vary');
    expect(enAgain.body.toString()).toBe('page in en');
    expect(none.body.toString()).toBe('page in none');
    expect(env.origin.count('/vary')).toBe(3);
  });
});
