import { describe, expect, test } from '@jest/globals';
import http2, { type ClientHttp2Session } from 'node:http2';
import { startCache, tempDir } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { waitFor } from './helpers/http.js';
import { fixed, startTestOrigin } from './helpers/test-origin.js';
import { makeCertificates, useTlsOriginAndCache } from './helpers/tls.js';

const { NGHTTP2_CANCEL } = http2.constants;

describe('HTTP/2 limits (docs/hardening.md)', () => {
  let holds: (() => void)[] = [];
  const env = useTlsOriginAndCache(
    {
      '/small': fixed('small', { 'cache-control': 'max-age=600' }),
      // Answers only when the test lets it: the stream stays open meanwhile.
      '*': (_req, res) => {
        holds.push(() => {
          res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '4' });
          res.end('held');
        });
      },
    },
    { maxStreams: 8, maxHeaderSize: 4096 },
  );

  async function session(): Promise<ClientHttp2Session> {
    return connectH2(env.cache.tlsUrl as string, env.certs.ca);
  }

  test('the cache announces --max-streams; streams beyond it wait, and are served once others finish', async () => {
    const client = await session();
    try {
      await waitFor(() => client.remoteSettings.maxConcurrentStreams === 8, 'the server settings');
      expect(client.remoteSettings.maxHeaderListSize).toBe(4096);
      holds = [];
      const replies = Array.from({ length: 12 }, (_, i) => h2Request(client, `/held/${i}`));
      // Eight reach the origin; the client holds the other four back (it honours the setting).
      await waitFor(() => holds.length === 8, 'eight streams at the origin');
      expect(env.origin.requests.filter((r) => r.url.startsWith('/held/')).length).toBe(8);
      for (const release of holds.splice(0)) release();
      await waitFor(() => holds.length === 4, 'the other four');
      for (const release of holds.splice(0)) release();
      for (const reply of await Promise.all(replies)) expect(reply.body.toString()).toBe('held');
    } finally {
      await closeH2(client);
    }
  });

  test('a header list larger than --max-header-size is refused (stream reset); the connection goes on', async () => {
    const client = await session();
    try {
      await waitFor(() => client.remoteSettings.maxHeaderListSize === 4096, 'the server settings');
      const before = env.origin.requests.length;
      // Just under the limit passes; just over, the server's nghttp2 resets the stream
      // (ENHANCE_YOUR_CALM) before the request exists, so the origin never hears of it; RFC 9113
      // §10.5.1 allows either that or a 431.
      const under = await h2Request(client, '/small', { headers: { 'x-pad': 'a'.repeat(3000) } });
      expect(under.status).toBe(200);
      const over = await h2Request(client, '/small', { headers: { 'x-pad': 'a'.repeat(5000) } }).then(
        (reply) => `status ${reply.status}`,
        (error: Error) => error.message,
      );
      expect(over).toMatch(/NGHTTP2_ENHANCE_YOUR_CALM/);
      expect((await h2Request(client, '/small')).status).toBe(200);
      expect(env.origin.requests.length - before).toBeLessThanOrEqual(1);
    } finally {
      await closeH2(client);
    }
  });

  test('rapid reset: a client that opens and cancels streams in a loop is cut off', async () => {
    const h2 = env.cache.listeners.tls?.h2;
    const client = await session();
    await waitFor(() => h2?.sessions.size === 1, 'the session on the server');
    const before = env.origin.requests.length;
    let sent = 0;
    // CVE-2023-44487: HEADERS then RST_STREAM at once, as fast as the connection takes them.
    for (let i = 0; i < 2000 && !client.destroyed && !client.closed && h2?.sessions.size === 1; i++) {
      const stream = client.request({ ':path': `/reset/${i}` });
      stream.on('error', () => {});
      stream.close(NGHTTP2_CANCEL);
      sent++;
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    // The server ended the connection (GOAWAY ENHANCE_YOUR_CALM, then closed it).
    await waitFor(() => h2?.sessions.size === 0, 'the server to close the session');
    client.destroy();
    const reached = env.origin.requests.length - before;
    // The bound: 2 × max-streams cancelled streams per 10 s, each of which may have reached the env.origin.
    expect(sent).toBeGreaterThan(reached);
    expect(reached).toBeLessThanOrEqual(8 * 2 + 8);
    // Nothing else suffers: a new connection is served.
    const other = await session();
    try {
      expect((await h2Request(other, '/small')).body.toString()).toBe('small');
    } finally {
      await closeH2(other);
    }
  });
});

describe('HTTP/2 connections count towards --max-connections', () => {
  test('a connection beyond the limit gets 503 with its code and Retry-After, then GOAWAY', async () => {
    const dir = await tempDir();
    const certs = await makeCertificates(dir.dir);
    const origin = await startTestOrigin({ '/p': fixed('p', { 'cache-control': 'max-age=60' }) });
    const cache = await startCache(origin.url, `${dir.dir}/cache`, {
      tlsCert: certs.certFile,
      tlsKey: certs.keyFile,
      maxConnections: 1,
    });
    const first = await connectH2(cache.tlsUrl as string, certs.ca);
    try {
      expect((await h2Request(first, '/p')).status).toBe(200);
      const second = await connectH2(cache.tlsUrl as string, certs.ca);
      const goaway = new Promise<void>((resolve) => second.once('goaway', () => resolve()));
      const refused = await h2Request(second, '/p');
      expect(refused.status).toBe(503);
      expect(refused.headers['x-cache-error']).toBe('CACHE_ERR_TOO_MANY_CONNECTIONS');
      expect(refused.headers['retry-after']).toBe('2');
      expect(refused.headers.connection).toBeUndefined();
      await goaway;
      second.destroy();
      // The first connection is still served.
      expect((await h2Request(first, '/p')).status).toBe(200);
    } finally {
      await closeH2(first);
      await cache.close();
      await origin.close();
      await dir.cleanup();
    }
  });
});
