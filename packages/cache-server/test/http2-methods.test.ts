import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import http from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/**
 * Over HTTP/2 a method is any token: nothing like Node's HTTP/1.1 parser, which refuses the
 * methods it does not know before any of the cache's code runs (limits/client-errors.ts: `BAN`
 * gets the catalogue's 405), stands in front of the cache. Such a request reached Fastify's
 * router, which has no route for a method it was never told of: it answered its own JSON 404
 * (`FST_ERR_NOT_FOUND`, no catalogue code, no Allow) and logged its whole route tree, twice per
 * request, as "likely a fastify bug". The same request must get the same answer over both
 * protocols: 405 CACHE_ERR_METHOD_NOT_ALLOWED with Allow, on that stream only.
 */
describe('HTTP/2: methods Node’s HTTP/1.1 parser does not know', () => {
  const env = useTlsOriginAndCache({
    '*': (req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'x-origin-saw': req.method ?? '', 'content-length': '2' });
      res.end('ok');
    },
  });

  const session = (): Promise<ClientHttp2Session> => connectH2(env.cache.tlsUrl as string, env.certs.ca);

  test.each([
    ['BAN', '/page'],
    ['FROB', '/page'],
    ['get', '/page'],
    ['BAN', '/_cache/health'],
    ['FROB', '/'],
  ])(
    '%s %s: 405 CACHE_ERR_METHOD_NOT_ALLOWED with Allow; the origin never hears of it; the connection goes on',
    async (method, path) => {
      const client = await session();
      try {
        const before = env.origin.requests.length;
        const refused = await h2Request(client, path, { method });
        expect(refused.status).toBe(405);
        expect(refused.headers['x-cache-error']).toBe('CACHE_ERR_METHOD_NOT_ALLOWED');
        expect(refused.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, PURGE');
        expect(refused.body.toString()).toContain('CACHE_ERR_METHOD_NOT_ALLOWED');
        expect(env.origin.requests.length).toBe(before);
        // A refusal of one request ends its stream only (docs/operating.md, errors).
        const next = await h2Request(client, '/after');
        expect([next.status, next.headers['x-origin-saw']]).toEqual([200, 'GET']);
      } finally {
        await closeH2(client);
      }
    },
  );

  test('a body behind the unknown method is not forwarded either', async () => {
    const client = await session();
    try {
      const before = env.origin.requests.length;
      const refused = await h2Request(client, '/page', { method: 'BAN', body: 'x'.repeat(70_000) });
      expect(refused.status).toBe(405);
      expect(env.origin.requests.length).toBe(before);
    } finally {
      await closeH2(client);
    }
  });

  test('any method token: forwarded as it came when HTTP/1.1 would forward it, else the catalogue 405', async () => {
    const known = new Set(http.METHODS);
    const client = await session();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/),
            fc.constantFrom(...http.METHODS, 'get', 'Get', 'BAN'),
          ),
          async (method) => {
            // CONNECT has no :path over HTTP/2 (RFC 9113 §8.5); PURGE is the cache's own.
            fc.pre(method !== 'CONNECT' && method !== 'PURGE');
            const reply = await h2Request(client, '/any', { method });
            if (!known.has(method) || method === 'TRACE') {
              expect([method, reply.status, reply.headers['x-cache-error']]).toEqual([
                method,
                405,
                'CACHE_ERR_METHOD_NOT_ALLOWED',
              ]);
            } else {
              // A HEAD is fetched as a GET, so the body can be stored (proxy/collapse/origin-fetch.ts).
              expect([method, reply.headers['x-origin-saw']]).toEqual([method, method === 'HEAD' ? 'GET' : method]);
            }
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      await closeH2(client);
    }
  });
});
