/**
 * FINDINGS F25's leftovers, over raw sockets. RFC 9112 §9.6: after a response that says
 * `Connection: close`, nothing the client pipelined behind it is processed; §6.3: a request
 * whose Transfer-Encoding does not end with chunked has no reliable length, so it gets a 400 and
 * the connection closes. Each case: exactly one answer, the connection closed by the cache, and
 * the origin never hears what came after.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { rawExchange } from './helpers/raw.js';
import { rawReply, startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';

let origin: RawOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let cache: StartedCache;

const OK = 'HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok';

beforeAll(async () => {
  dir = await tempDir();
  origin = await startRawOrigin({
    // Resets the connection as soon as the head arrives: the request body is still on its way.
    '/reset': (socket) => socket.destroy(),
    '*': rawReply(OK, 'keep'),
  });
  cache = await startCache(origin.url, dir.dir);
});
afterAll(async () => {
  await cache?.close();
  await origin?.close();
  await dir?.cleanup();
});

const PIPELINED = 'GET /after HTTP/1.1\r\nHost: cache.test\r\n\r\n';

describe('a Transfer-Encoding that does not end with chunked (RFC 9112 §6.3)', () => {
  test.each([
    ['GET', 'xchunked', '', 'CACHE_ERR_BAD_FRAMING'],
    ['POST', 'xchunked', 'hello', 'CACHE_ERR_BAD_FRAMING'],
    ['POST', 'gzip', 'hello', 'CACHE_ERR_BAD_FRAMING'],
    ['PUT', 'identity', 'hello', 'CACHE_ERR_BAD_FRAMING'],
    // chunked before the last coding: Node's parser refuses it before handing the request over.
    ['POST', 'chunked, gzip', '5\r\nhello\r\n0\r\n\r\n', 'CACHE_ERR_MALFORMED_REQUEST'],
  ])(
    '%s with Transfer-Encoding: %s → one 400 %s, closed; the origin hears nothing',
    async (method, coding, body, code) => {
      const path = `/te-${method}-${coding.replace(/\W+/g, '-')}`;
      const reply = await rawExchange(
        cache.url,
        `${method} ${path} HTTP/1.1\r\nHost: cache.test\r\nTransfer-Encoding: ${coding}\r\n\r\n${body}${PIPELINED}`,
      );
      expect(reply.statuses).toEqual([400]);
      expect(reply.text).toContain(`\r\nx-cache-error: ${code}\r\n`);
      expect(reply.text).toMatch(/\r\nconnection: close\r\n/i);
      expect(reply.closedByServer).toBe(true);
      expect(origin.count(path)).toBe(0);
      expect(origin.count('/after')).toBe(0);
    },
  );
});

describe('after a refusal that closed the connection, a malformed request behind it gets no second answer', () => {
  test.each([
    ['TRACE (405)', 'TRACE /a HTTP/1.1\r\nHost: cache.test\r\n\r\n', 405],
    [
      'a body over --max-body-size (413)',
      'POST /a HTTP/1.1\r\nHost: cache.test\r\nContent-Length: 9999999999\r\n\r\n',
      413,
    ],
    ['no Host (400)', 'GET /a HTTP/1.1\r\n\r\n', 400],
  ])('%s, then bytes Node cannot parse', async (_label, refused, status) => {
    const reply = await rawExchange(cache.url, `${refused}GET /b HTTP/1.1\r\nHost: cache.test\r\nBad Header\r\n\r\n`);
    expect(reply.statuses).toEqual([status]);
    expect(reply.closedByServer).toBe(true);
  });
});

describe('an origin failure while the request body is still arriving (proxy/respond/send-error.ts)', () => {
  test('502 with Connection: close; the request pipelined behind the body is not processed', async () => {
    const size = 4 * 1024 * 1024;
    const request = Buffer.concat([
      Buffer.from(`POST /reset HTTP/1.1\r\nHost: cache.test\r\nContent-Length: ${size}\r\n\r\n`),
      Buffer.alloc(size, 'b'),
      Buffer.from(PIPELINED),
    ]);
    const reply = await rawExchange(cache.url, request, 10_000);
    expect(reply.statuses).toEqual([502]);
    expect(reply.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(reply.closedByServer).toBe(true);
    expect(origin.count('/reset')).toBeGreaterThanOrEqual(1);
    expect(origin.count('/after')).toBe(0);
  });
});
