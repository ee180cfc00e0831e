import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { rawExchange } from './helpers/raw.js';
import { parseResponses } from './helpers/raw-response.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

/**
 * F32: Node's HTTP/1.1 server keeps the first 1,000 header lines of a request (its default
 * `maxHeadersCount`) and drops the rest without a word, while its parser still frames the body by
 * them. A request whose Content-Length (or Authorization, Range, Connection: close…) came after
 * line 1,000 reached the origin without it: an upload forwarded with no body, answered 200. nginx
 * has no count, only a size (`large_client_header_buffers`); so has the cache: `--max-header-size`
 * bounds a head (431 beyond, limits.test.ts), and every field within it is seen.
 */
describe('a request head with many fields: every field within --max-header-size is seen', () => {
  let origin: http.Server;
  let originUrl = '';
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: StartedCache;

  beforeAll(async () => {
    // The origin must see every field too: no count, a size above the cache's.
    origin = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('latin1');
        const fields = req.rawHeaders.filter((_, i) => i % 2 === 0 && /^f[0-9a-z]+$/.test(req.rawHeaders[i] ?? ''));
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
        res.end(
          JSON.stringify({ method: req.method, fields: fields.length, last: req.headers['x-last'] ?? null, body }),
        );
      });
    });
    origin.maxHeadersCount = 0;
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    dir = await tempDir();
    cache = await startCache(originUrl, dir.dir, { maxHeaderSize: 64 * 1024 });
  });
  afterAll(async () => {
    await cache?.close();
    origin?.closeAllConnections();
    await new Promise<void>((resolve) => origin?.close(() => resolve()));
    await dir?.cleanup();
  });

  function head(method: string, path: string, count: number, tail: string): string {
    let text = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    for (let i = 0; i < count; i++) text += `f${i.toString(36)}: ${i}\r\n`;
    return `${text}${tail}`;
  }

  function answerOf(text: string): { method: string; fields: number; last: string | null; body: string } {
    const [response] = parseResponses(text);
    return JSON.parse(response?.body ?? '') as never;
  }

  test('the body is framed and forwarded by a Content-Length or Transfer-Encoding after line 1,000', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 995, max: 3_000 }),
        fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'),
        fc.constantFrom('length', 'chunked'),
        fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }),
        async (count, method, framing, body) => {
          const tail =
            framing === 'length'
              ? `x-last: yes\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
              : `x-last: yes\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
          const exchange = await rawExchange(cache.url, head(method, `/upload-${count}`, count, tail), 10_000);
          // Connection: close came last too: the cache honours it.
          expect(exchange.closedByServer).toBe(true);
          expect(exchange.statuses).toEqual([200]);
          expect(answerOf(exchange.text)).toEqual({ method, fields: count, last: 'yes', body });
        },
      ),
      { numRuns: 12 },
    );
  });

  test('an Authorization after line 1,000 keeps the answer out of the shared cache (RFC 9111 §3.5)', async () => {
    const path = '/private-after-many-fields';
    const first = await rawExchange(
      cache.url,
      head('GET', path, 1_200, 'Authorization: Bearer secret\r\nConnection: close\r\n\r\n'),
      10_000,
    );
    expect(first.statuses).toEqual([200]);
    const second = await rawExchange(cache.url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(second.statuses).toEqual([200]);
    expect(second.text).toMatch(/\r\nx-cache: MISS\r\n/i);
    expect(answerOf(second.text).fields).toBe(0);
  });
});
