import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

describe('methods other than GET and HEAD pass through untouched', () => {
  const env = useOriginAndCache({
    '/echo': (req, res, body) => {
      res.writeHead(201, {
        'content-type': 'application/octet-stream',
        'x-method': req.method ?? '',
        'cache-control': 'max-age=60',
      });
      res.end(body);
    },
    '/doc': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`version ${env.origin.count('/doc')}`);
    },
  });

  test.each(['POST', 'PUT', 'PATCH', 'DELETE'])(
    '%s: body and headers reach the origin, its answer comes back, nothing is stored',
    async (method) => {
      const payload = Buffer.from(`payload for ${method} \u00e9\u0000\u00ff`, 'latin1');
      const before = env.origin.count('/echo');
      const reply = await request(env.cache.url, '/echo', {
        method,
        headers: { 'content-type': 'application/octet-stream', 'content-length': payload.length, 'x-custom': 'kept' },
        body: payload,
      });
      expect(reply.status).toBe(201);
      expect(reply.headers['x-method']).toBe(method);
      expect(reply.body.equals(payload)).toBe(true);
      expect(reply.headers['x-cache']).toBe('BYPASS');
      const seen = env.origin.requests.at(-1);
      expect(seen?.method).toBe(method);
      expect(seen?.headers['x-custom']).toBe('kept');
      expect(seen?.body.equals(payload)).toBe(true);
      await request(env.cache.url, '/echo', { method, body: payload, headers: { 'content-length': payload.length } });
      expect(env.origin.count('/echo')).toBe(before + 2);
    },
  );

  test('a successful POST invalidates the stored GET response for its URL (RFC 9111 §4.4)', async () => {
    expect((await request(env.cache.url, '/doc')).body.toString()).toBe('version 1');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be committed');
    expect((await request(env.cache.url, '/doc')).headers['x-cache']).toBe('HIT');
    await request(env.cache.url, '/doc', { method: 'POST', body: 'x', headers: { 'content-length': 1 } });
    const after = await request(env.cache.url, '/doc');
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.toString()).toBe('version 3');
  });
});
