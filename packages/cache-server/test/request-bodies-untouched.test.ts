import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import net from 'node:net';
import pino from 'pino';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { rawExchange } from './helpers/raw.js';
import { parseResponses } from './helpers/raw-response.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

/**
 * The cache never reads a request body: whatever a client sends with whatever Content-Type (none,
 * JSON that does not parse, multipart without a boundary, a charset nobody knows, a value that is
 * not a media type at all, a huge one) reaches the origin byte for byte, which judges it. Every
 * answer the cache makes itself is one of its catalogue's (X-Cache-Error), never its framework's:
 * Fastify answered QUERY without Content-Type with its JSON 400, `Content-Type: text` with a
 * JSON 415, `/%zz` with a JSON 400 and a request on a connection still open during shutdown
 * with a JSON 503.
 */
const METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'QUERY', 'PROPFIND'] as const;
const CONTENT_TYPES: (string | undefined)[] = [
  undefined,
  'application/json',
  'multipart/form-data',
  'text/plain; charset=bogus',
  '',
  ';;',
  'text',
  'application/x-www-form-urlencoded',
  `application/octet-stream; x=${'a'.repeat(6_000)}`,
  'text/plain; charset="unterminated',
  'caf\u00e9/latin1',
];
/** Bodies a parser would choke on: invalid JSON, a multipart without its boundary, NUL and 8-bit bytes. */
const BODY = fc.oneof(
  fc.constantFrom(
    '',
    '{"a":',
    '--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--',
    'a=1&b=%zz',
    '\0\u00ff\u00e9',
  ),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
type Framing = 'none' | 'length' | 'chunked';

function request(method: string, path: string, type: string | undefined, framing: Framing, body: Buffer): Buffer {
  const fields = ['Host: cache.test', 'Connection: close'];
  if (type !== undefined) fields.push(`Content-Type: ${type}`);
  if (framing === 'length') fields.push(`Content-Length: ${body.length}`);
  if (framing === 'chunked') fields.push('Transfer-Encoding: chunked');
  const head = Buffer.from(`${method} ${path} HTTP/1.1\r\n${fields.join('\r\n')}\r\n\r\n`, 'latin1');
  if (framing === 'none') return head;
  if (framing === 'length') return Buffer.concat([head, body]);
  const chunk = body.length === 0 ? [] : [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')];
  return Buffer.concat([head, ...chunk, Buffer.from('0\r\n\r\n')]);
}

describe('request bodies and their Content-Type reach the origin untouched; every refusal is ours', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: TestOrigin;
  let cache: StartedCache;
  // Every log line, parsed: a refusal must leave one with its code.
  const { logger, lines } = captureLog('info');
  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (req, res, body) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store', 'x-origin': '1' });
        res.end(`${req.method} ${body.length}`);
      },
    });
    cache = await startTestCache({ origin: origin.url, cacheDir: dir.dir, originTimeout: 5_000 }, { logger });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  let run = 0;
  test('every method × framing × Content-Type × body: the origin gets the body and its type as sent (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.constantFrom(...CONTENT_TYPES),
        fc.constantFrom<Framing>('none', 'length', 'chunked'),
        BODY,
        async (method, type, framing, text) => {
          const body = framing === 'none' ? Buffer.alloc(0) : Buffer.from(text, 'latin1');
          const path = `/p/${++run}`;
          const exchange = await rawExchange(cache.url, request(method, path, type, framing, body), 10_000);
          const [reply, ...more] = parseResponses(exchange.text);
          expect(more).toHaveLength(0);
          // The origin's answer, relayed: nothing in between judged the body.
          expect({ status: reply?.status, error: reply?.headers['x-cache-error'] }).toEqual({
            status: 200,
            error: undefined,
          });
          expect(reply?.body).toBe(`${method} ${body.length}`);
          const [seen, ...again] = origin.requests.filter((r) => r.url === path);
          expect(again).toHaveLength(0);
          expect(seen?.method).toBe(method);
          expect(seen?.headers['content-type']).toBe(type === undefined ? undefined : type.trim());
          expect(seen?.body.equals(body)).toBe(true);
        },
      ),
      // A fixed seed (FC_SEED to try others): the test command runs once in CI.
      { numRuns: 120, seed: Number(process.env.FC_SEED ?? 20261206) },
    );
  });

  test('GET and HEAD with any Content-Type are answered from the origin too, never refused', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const type of CONTENT_TYPES) {
        const path = `/g/${++run}`;
        const exchange = await rawExchange(cache.url, request(method, path, type, 'length', Buffer.from('{"a":')));
        const [reply] = parseResponses(exchange.text, () => method === 'HEAD');
        expect([method, type, reply?.status, reply?.headers['x-cache-error']]).toEqual([method, type, 200, undefined]);
      }
    }
  });

  test('a target with a percent sign that is no escape (/%zz) gets the catalogue 400, logged, not forwarded', async () => {
    const before = origin.count();
    for (const target of ['/%zz', '/a%2', '/_cache/%zz', '/_cache/stats%']) {
      const exchange = await rawExchange(cache.url, `GET ${target} HTTP/1.1\r\nHost: cache.test\r\n\r\n`);
      const [reply, ...more] = parseResponses(exchange.text);
      expect(more).toHaveLength(0);
      expect([target, reply?.status, reply?.headers['x-cache-error']]).toEqual([
        target,
        400,
        'CACHE_ERR_BAD_REQUEST_TARGET',
      ]);
      // Its body is ours (text), never Fastify's JSON; the connection closes (the body, if any, is unread).
      expect(reply?.headers['content-type']).toMatch(/^text\/plain/);
      expect(exchange.closedByServer).toBe(true);
      expect(lines.some((line) => line.code === 'CACHE_ERR_BAD_REQUEST_TARGET' && line.path === target)).toBe(true);
    }
    expect(origin.count()).toBe(before);
    // In the query, `%zz` is the origin's business (nginx forwards it too).
    const exchange = await rawExchange(
      cache.url,
      'GET /q?x=%zz HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\n\r\n',
    );
    expect(parseResponses(exchange.text)[0]?.status).toBe(200);
    expect(origin.count('/q?x=%zz')).toBe(1);
  });
});

describe('Expect: 100-continue on a request the cache refuses', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: StartedCache;
  beforeAll(async () => {
    dir = await tempDir();
    cache = await startTestCache(
      { origin: 'http://127.0.0.1:9', cacheDir: dir.dir, maxBodySize: 1_000 },
      { logger: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await cache?.close();
    await dir?.cleanup();
  });

  // RFC 9110 §10.1.1: Expect lets a client learn of the refusal before it sends the body (curl sends
  // it for uploads over 1 MB); a 100 before the 413 made it upload the whole body for nothing.
  test.each([
    ['a body over --max-body-size', 'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 999999', 413],
    ['no Host', 'PUT /up HTTP/1.1\r\nContent-Length: 5', 400],
    ['TRACE', 'TRACE /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5', 405],
  ])('%s: the refusal at once, no 100 Continue', async (_name, head, status) => {
    const exchange = await rawExchange(cache.url, `${head}\r\nExpect: 100-continue\r\n\r\n`);
    expect(exchange.text).not.toMatch(/^HTTP\/1\.1 100/m);
    expect(exchange.statuses).toEqual([status]);
  });
});

describe('during a graceful shutdown', () => {
  test('a request on a connection still open gets the catalogue 503 CACHE_ERR_SHUTTING_DOWN with Connection: close', async () => {
    const dir = await tempDir();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const origin = await startTestOrigin({
      '/slow': (_req, res) =>
        void held.then(() => {
          res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '3' });
          res.end('abc');
        }),
    });
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: dir.dir },
      { logger: pino({ level: 'silent' }) },
    );
    const socket = net.connect(Number(new URL(cache.url).port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('GET /slow HTTP/1.1\r\nHost: cache.test\r\n\r\n');
    // The origin has the request: the connection is busy, so close() keeps it open.
    while (origin.count('/slow') === 0) await new Promise((resolve) => setImmediate(resolve));
    const closing = cache.close();
    // Once the listener is closed (after the preClose hooks), the response in flight finishes;
    // then the next request on the same connection is refused.
    while (cache.app.server.listening) await new Promise((resolve) => setImmediate(resolve));
    release();
    while (!text.includes('abc')) await new Promise((resolve) => socket.once('data', resolve));
    socket.write('GET /next HTTP/1.1\r\nHost: cache.test\r\n\r\n');
    await closed;
    await closing;
    await origin.close();
    await dir.cleanup();
    const [first, second, ...more] = parseResponses(text);
    expect(more).toHaveLength(0);
    expect(first?.status).toBe(200);
    expect(second?.status).toBe(503);
    expect(second?.headers['x-cache-error']).toBe('CACHE_ERR_SHUTTING_DOWN');
    expect(second?.headers.connection).toBe('close');
    expect(origin.count('/next')).toBe(0);
  });
});

describe('admin endpoints take what curl sends, on the cache port and on --admin-port', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: StartedCache;
  beforeAll(async () => {
    dir = await tempDir();
    cache = await startTestCache(
      { origin: 'http://127.0.0.1:9', cacheDir: dir.dir, adminPort: 0 },
      { logger: pino({ level: 'silent' }) },
    );
  });
  afterAll(async () => {
    await cache?.close();
    await dir?.cleanup();
  });

  // `curl -X DELETE -d 'a=b' …` sends a form; scripts send JSON, sometimes broken; `-H 'Content-Type: text'`.
  const BODIES: [string, string][] = [
    ['application/x-www-form-urlencoded', 'a=b'],
    ['application/json', '{"a":'],
    ['text', 'abc'],
    ['multipart/form-data', '--x--'],
  ];
  test.each(BODIES)('a purge with a %s body is a purge (200), on both ports', async (type, body) => {
    for (const base of [cache.url, cache.adminUrl as string]) {
      for (const head of ['DELETE /_cache/entries?url=/x', 'PURGE /x']) {
        const exchange = await rawExchange(
          base,
          `${head} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
        );
        const [reply] = parseResponses(exchange.text);
        expect([base === cache.url ? 'cache port' : 'admin port', head, reply?.status, reply?.body]).toEqual([
          base === cache.url ? 'cache port' : 'admin port',
          head,
          200,
          '{"purged":0,"soft":false}',
        ]);
      }
    }
  });

  test('a target that is no path on the admin port: the admin 400, not the framework JSON', async () => {
    const exchange = await rawExchange(
      cache.adminUrl as string,
      'GET /_cache/%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    );
    const [reply] = parseResponses(exchange.text);
    expect(reply?.status).toBe(400);
    expect(reply?.headers['x-cache-error']).toBe('CACHE_ERR_ADMIN_BAD_REQUEST');
  });
});
