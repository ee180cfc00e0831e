import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import http2, { type ClientHttp2Session } from 'node:http2';
import type { ServerResponse } from 'node:http';
import { PREFIX } from './helpers/admin.js';
import { startCache } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/**
 * Every behaviour of the cache over HTTP/2 (node:http2 as the client), compared where it helps
 * with the same request over HTTP/1.1: hits (fast path and full path), streamed misses,
 * collapsing, ranges, HEAD, conditionals, pass-through with a body, purge, admin, dashboard,
 * errors with their codes.
 */
const BIG = randomBytes(2 * 1024 * 1024);
const TEXT = 'abcdefghijklmnopqrstuvwxyz';

/** Headers that legitimately differ between two responses a moment apart, or by protocol. */
function comparable(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || ['date', 'age', 'cache-status', 'connection', 'keep-alive'].includes(name)) continue;
    out[name] = value;
  }
  return out;
}

describe('the cache over HTTP/2', () => {
  let client: ClientHttp2Session;
  let releaseStream: () => void = () => {};
  let releaseCollapse: () => void = () => {};
  const env = useTlsOriginAndCache(
    {
      '/text': fixed(TEXT, { 'cache-control': 'max-age=600', 'content-type': 'text/plain', etag: '"t1"' }),
      '/big': fixed(BIG, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream' }),
      // The first half now, the rest when the test says: the client must see the first half before.
      '/streamed': (_req, res: ServerResponse) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(BIG.length) });
        res.write(BIG.subarray(0, BIG.length / 2));
        releaseStream = () => res.end(BIG.subarray(BIG.length / 2));
      },
      '/collapse': (_req, res: ServerResponse) => {
        releaseCollapse = () => {
          res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': String(BIG.length) });
          res.end(BIG);
        };
      },
      '/echo': (req, res, body) => {
        res.writeHead(201, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`${req.method} ${body.toString()}`);
      },
      '/slow': (_req, res) => {
        setTimeout(() => res.end('late'), 5000).unref();
      },
    },
    // The default origin timeout: a streamed miss waits for the test between its halves, which a
    // loaded machine can stretch well past a short timeout. The timeout test has its own cache.
  );
  beforeAll(async () => {
    client = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
  });
  afterAll(() => closeH2(client));

  const stored = () => waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');

  test('a hit from memory takes the fast path over HTTP/2 and says what HTTP/1.1 says', async () => {
    expect((await h2Request(client, '/text')).headers['x-cache']).toBe('MISS');
    await stored();
    const servedBefore = env.cache.fastHit?.served ?? 0;
    const fast = await h2Request(client, '/text');
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
    expect(fast.status).toBe(200);
    expect(fast.body.toString()).toBe(TEXT);
    const overHttp1 = await request(env.cache.url, '/text');
    expect(comparable(fast.headers)).toEqual(comparable(overHttp1.headers));
    // The full path (a request directive sends it there) answers the same.
    const full = await h2Request(client, '/text', { headers: { 'cache-control': 'max-stale=0' } });
    expect(env.cache.fastHit?.served).toBe(servedBefore + 2);
    expect(full.headers['x-cache']).toBe('HIT');
    expect(comparable(full.headers)).toEqual(comparable(fast.headers));
  });

  test('a miss is streamed: the first half arrives before the origin has sent the rest', async () => {
    const stream = client.request({ ':path': '/streamed' });
    let received = 0;
    const firstHalf = new Promise<void>((resolve) =>
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= BIG.length / 2) resolve();
      }),
    );
    const done = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    await firstHalf;
    expect(received).toBe(BIG.length / 2);
    releaseStream();
    await done;
    expect(received).toBe(BIG.length);
    await stored();
    const hit = await h2Request(client, '/streamed');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(BIG)).toBe(true);
  });

  test('20 streams on 2 connections for one missing URL: one origin fetch, every body whole', async () => {
    const other = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      const replies = Array.from({ length: 20 }, (_, i) => h2Request(i % 2 ? client : other, '/collapse'));
      await waitFor(() => env.origin.count('/collapse') === 1, 'the origin fetch');
      releaseCollapse();
      for (const reply of await Promise.all(replies)) {
        expect(reply.status).toBe(200);
        expect(reply.body.equals(BIG)).toBe(true);
      }
      expect(env.origin.count('/collapse')).toBe(1);
    } finally {
      await closeH2(other);
    }
  });

  test('ranges: one range, several (multipart), unsatisfiable; HEAD; a client conditional', async () => {
    await h2Request(client, '/text');
    await stored();
    const one = await h2Request(client, '/text', { headers: { range: 'bytes=2-5' } });
    expect(one.status).toBe(206);
    expect(one.headers['content-range']).toBe(`bytes 2-5/${TEXT.length}`);
    expect(one.body.toString()).toBe('cdef');
    const several = await h2Request(client, '/text', { headers: { range: 'bytes=0-1,24-' } });
    expect(several.status).toBe(206);
    expect(String(several.headers['content-type'])).toMatch(/^multipart\/byteranges; boundary=/);
    expect(several.body.toString()).toMatch(/Content-Range: bytes 0-1\/26\r\n\r\nab\r\n/);
    expect(several.body.toString()).toMatch(/Content-Range: bytes 24-25\/26\r\n\r\nyz\r\n/);
    expect(Number(several.headers['content-length'])).toBe(several.body.length);
    const none = await h2Request(client, '/text', { headers: { range: 'bytes=100-' } });
    expect(none.status).toBe(416);
    expect(none.headers['content-range']).toBe(`bytes */${TEXT.length}`);

    const head = await h2Request(client, '/text', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(TEXT.length));
    expect(head.body.length).toBe(0);
    const notModified = await h2Request(client, '/text', { headers: { 'if-none-match': '"t1"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
  });

  test('a request body goes to the origin (pass-through), and a large miss arrives whole', async () => {
    const posted = await h2Request(client, '/echo', {
      method: 'POST',
      body: 'form=data',
      headers: { 'content-type': 'text/plain' },
    });
    expect(posted.status).toBe(201);
    expect(posted.body.toString()).toBe('POST form=data');
    expect(posted.headers['x-cache']).toBe('BYPASS');
    // Without Content-Length: an HTTP/2 body is framed by DATA frames alone.
    const unsized = await h2Request(client, '/echo', { method: 'PUT', body: Buffer.alloc(100_000, 'u') });
    expect(unsized.body.toString()).toBe(`PUT ${'u'.repeat(100_000)}`);
    const big = await h2Request(client, '/big');
    expect(big.body.equals(BIG)).toBe(true);
  });

  test('a client that cancels a miss mid-body does not stop the fetch for the store', async () => {
    const stream = client.request({ ':path': '/big?cancelled' });
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await stored();
    const again = await h2Request(client, '/big?cancelled');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body.equals(BIG)).toBe(true);
    expect(env.origin.count('/big?cancelled')).toBe(1);
  });

  test('PURGE, the admin endpoints and the dashboard answer over HTTP/2', async () => {
    await h2Request(client, '/text');
    await stored();
    const purged = await h2Request(client, '/text', { method: 'PURGE' });
    expect(purged.status).toBe(200);
    expect(JSON.parse(purged.body.toString())).toEqual({ purged: 1, soft: false });
    expect((await h2Request(client, '/text')).headers['x-cache']).toBe('MISS');
    const stats = await h2Request(client, `${PREFIX}/stats`);
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body.toString())).toHaveProperty('requests');
    const dashboard = await h2Request(client, `${PREFIX}/`);
    expect(dashboard.status).toBe(200);
    expect(String(dashboard.headers['content-type'])).toMatch(/^text\/html/);
    expect(dashboard.body.toString()).toMatch(/<html/i);
  });

  test('errors carry their codes: origin timeout 504, origin unreachable 502', async () => {
    const impatient = await startCache(env.origin.url, `${env.dir}/impatient`, {
      tlsCert: env.certs.certFile,
      tlsKey: env.certs.keyFile,
      originTimeout: 300,
    });
    const impatientSession = await connectH2(impatient.tlsUrl as string, env.certs.ca);
    try {
      const slow = await h2Request(impatientSession, '/slow');
      expect(slow.status).toBe(504);
      expect(slow.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TIMEOUT');
      expect(slow.body.toString()).toMatch(/CACHE_ERR_ORIGIN_TIMEOUT/);
      for (const name of ['connection', 'keep-alive', 'transfer-encoding']) expect(slow.headers[name]).toBeUndefined();
    } finally {
      await closeH2(impatientSession);
      await impatient.close();
    }
    const unreachable = await startCache('http://127.0.0.1:1', `${env.dir}/down`, {
      tlsCert: env.certs.certFile,
      tlsKey: env.certs.keyFile,
    });
    const session = await connectH2(unreachable.tlsUrl as string, env.certs.ca);
    try {
      const reply = await h2Request(session, '/x');
      expect(reply.status).toBe(502);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_UNREACHABLE');
    } finally {
      await closeH2(session);
      await unreachable.close();
    }
  });
});
