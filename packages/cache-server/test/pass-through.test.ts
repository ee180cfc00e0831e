import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

describe('methods other than GET and HEAD pass through untouched', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
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
        res.end(`version ${origin.count('/doc')}`);
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test.each(['POST', 'PUT', 'PATCH', 'DELETE'])(
    '%s: body and headers reach the origin, its answer comes back, nothing is stored',
    async (method) => {
      const payload = Buffer.from(`payload for ${method} \u00e9\u0000\u00ff`, 'latin1');
      const before = origin.count('/echo');
      const reply = await request(cache.url, '/echo', {
        method,
        headers: { 'content-type': 'application/octet-stream', 'content-length': payload.length, 'x-custom': 'kept' },
        body: payload,
      });
      expect(reply.status).toBe(201);
      expect(reply.headers['x-method']).toBe(method);
      expect(reply.body.equals(payload)).toBe(true);
      expect(reply.headers['x-cache']).toBe('BYPASS');
      const seen = origin.requests.at(-1);
      expect(seen?.method).toBe(method);
      expect(seen?.headers['x-custom']).toBe('kept');
      expect(seen?.body.equals(payload)).toBe(true);
      await request(cache.url, '/echo', { method, body: payload, headers: { 'content-length': payload.length } });
      expect(origin.count('/echo')).toBe(before + 2);
    },
  );

  test('a successful POST invalidates the stored GET response for its URL (RFC 9111 §4.4)', async () => {
    expect((await request(cache.url, '/doc')).body.toString()).toBe('version 1');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be committed');
    expect((await request(cache.url, '/doc')).headers['x-cache']).toBe('HIT');
    await request(cache.url, '/doc', { method: 'POST', body: 'x', headers: { 'content-length': 1 } });
    const after = await request(cache.url, '/doc');
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.toString()).toBe('version 3');
  });
});
