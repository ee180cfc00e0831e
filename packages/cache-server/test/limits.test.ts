import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { OptionError } from '@simple-cache/common';
import { loadConfig } from '../src/config/load-config.js';
import { RETRY_AFTER_SECONDS } from '../src/limits/limits.js';
import { request, waitFor } from './helpers/http.js';
import { connectionCount, rawExchange } from './helpers/raw.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

describe('limits with clear answers', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const caches: StartedCache[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (req, res, body) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end(`${req.method} ${req.url} ${body.length}`);
      },
    });
  });
  afterAll(async () => {
    for (const cache of caches) await cache.close();
    await origin?.close();
    await dir?.cleanup();
  });

  async function cacheWith(extra: Parameters<typeof startCache>[2]): Promise<StartedCache> {
    const cache = await startCache(origin.url, `${dir.dir}/${caches.length}`, extra);
    caches.push(cache);
    return cache;
  }

  test('--max-connections: a connection beyond the limit gets 503 + Retry-After and is closed; room again once one leaves', async () => {
    const cache = await cacheWith({ maxConnections: 2 });
    const url = new URL(cache.url);
    const held = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(Number(url.port), url.hostname, () => resolve(socket));
          }),
      ),
    );
    await waitFor(async () => (await connectionCount(cache.app.server)) === 2, 'two held connections');
    const refused = await rawExchange(cache.url, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(refused.statuses).toEqual([503]);
    expect(refused.text).toMatch(new RegExp(`\r\nretry-after: ${RETRY_AFTER_SECONDS}\r\n`, 'i'));
    expect(refused.text).toMatch(/\r\nx-cache-error: CACHE_ERR_TOO_MANY_CONNECTIONS\r\n/i);
    expect(refused.closedByServer).toBe(true);

    held[0]?.destroy();
    await waitFor(async () => (await connectionCount(cache.app.server)) === 1, 'one connection to leave');
    expect((await request(cache.url, '/a')).status).toBe(200);
    held[1]?.destroy();
  });

  test('--max-header-size: a larger request head gets 431; a smaller one is served', async () => {
    const cache = await cacheWith({ maxHeaderSize: 4096 });
    const big = await rawExchange(cache.url, `GET /h HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`);
    expect(big.statuses).toEqual([431]);
    const small = await request(cache.url, '/h', { headers: { 'x-small': 'a'.repeat(3000) } });
    expect(small.status).toBe(200);
  });

  describe('--max-body-size (pass-through bodies)', () => {
    let cache: StartedCache;
    beforeAll(async () => {
      cache = await cacheWith({ maxBodySize: 1000 });
    });

    test('an announced Content-Length over the limit → 413 at once, the origin never asked', async () => {
      const before = origin.requests.length;
      const reply = await rawExchange(cache.url, 'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n');
      expect(reply.statuses).toEqual([413]);
      expect(reply.text).toMatch(/x-cache-error: CACHE_ERR_BODY_TOO_LARGE/i);
      expect(reply.closedByServer).toBe(true);
      expect(origin.requests.length).toBe(before);
    });

    test('a chunked body that grows over the limit → 413, connection closed', async () => {
      const chunk = 'a'.repeat(600);
      const body = `258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`;
      const reply = await rawExchange(
        cache.url,
        `POST /up-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
      );
      expect(reply.statuses).toEqual([413]);
      expect(reply.closedByServer).toBe(true);
      expect(origin.requests.filter((r) => r.url === '/up-chunked' && r.body.length > 1000)).toEqual([]);
    });

    test('a body within the limit is forwarded whole', async () => {
      const reply = await request(cache.url, '/up-ok', { method: 'POST', body: 'b'.repeat(1000) });
      expect(reply.status).toBe(200);
      expect(reply.body.toString()).toBe('POST /up-ok 1000');
    });
  });

  test('--max-event-loop-delay: while the event loop lags, new requests get 503 + Retry-After; then served again', async () => {
    const cache = await cacheWith({ maxEventLoopDelay: 50 });
    // Blocks this process's event loop for 150 ms at a time: the cache runs in it.
    const blocker = setInterval(() => {
      const until = performance.now() + 150;
      while (performance.now() < until);
    }, 5);
    let refused;
    try {
      await waitFor(async () => {
        refused = await request(cache.url, '/busy');
        return refused.status === 503;
      }, 'a 503 while overloaded');
    } finally {
      clearInterval(blocker);
    }
    expect(refused!.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
    expect(refused!.headers['x-cache-error']).toBe('CACHE_ERR_OVERLOADED');
    await waitFor(async () => (await request(cache.url, '/busy')).status === 200, 'recovery');
  });

  test.each([
    [['--max-connections', '0'], 'max-connections'],
    [['--max-connections', '1.5'], 'max-connections'],
    [['--max-header-size', 'big'], 'max-header-size'],
    [['--max-body-size', '0'], 'max-body-size'],
    [['--headers-timeout', '0'], 'headers-timeout'],
    [['--idle-timeout', 'soon'], 'idle-timeout'],
    [['--max-event-loop-delay', '-1'], 'max-event-loop-delay'],
  ])('%j is refused, naming the option', (argv, name) => {
    expect(() => loadConfig(argv, {})).toThrow(OptionError);
    expect(() => loadConfig(argv, {})).toThrow(name);
  });

  test('every limit can be set by flag or environment', () => {
    const { config } = loadConfig(['--max-connections', '5', '--max-event-loop-delay', '0'], {
      CACHE_MAX_HEADER_SIZE: '8KiB',
      CACHE_MAX_BODY_SIZE: '1MB',
      CACHE_HEADERS_TIMEOUT: '2s',
      CACHE_REQUEST_TIMEOUT: '30s',
      CACHE_IDLE_TIMEOUT: '45s',
    });
    expect(config).toMatchObject({
      maxConnections: 5,
      maxHeaderSize: 8192,
      maxBodySize: 1_000_000,
      headersTimeout: 2000,
      requestTimeout: 30_000,
      idleTimeout: 45_000,
      maxEventLoopDelay: 0,
    });
  });
});
