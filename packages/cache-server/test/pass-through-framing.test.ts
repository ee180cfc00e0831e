// @system-packages curl
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import net from 'node:net';
import { startCache, tempDir, useOriginAndCache, type StartedCache } from './helpers/cache.js';
import { rawExchange } from './helpers/raw.js';
import { deadPort, parseResponses, readSocket, runCurl, type ReadResponse } from './helpers/raw-response.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

/**
 * Every method, with every request framing a client can send, against an origin that answers and
 * one that is down. The body of the framed forms is itself a request: if the cache ever sent it to
 * the origin without framing, the origin would read it as a second request for /smuggled.
 */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND'] as const;
const PAYLOAD = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

type Form = 'none' | 'content-length-0' | 'body' | 'chunked';
const FORMS: Record<Form, { framing: string; body: string; sent: string }> = {
  none: { framing: '', body: '', sent: '' },
  'content-length-0': { framing: 'Content-Length: 0\r\n', body: '', sent: '' },
  body: { framing: `Content-Length: ${PAYLOAD.length}\r\n`, body: PAYLOAD, sent: PAYLOAD },
  chunked: {
    framing: 'Transfer-Encoding: chunked\r\n',
    body: `${PAYLOAD.length.toString(16)}\r\n${PAYLOAD}\r\n0\r\n\r\n`,
    sent: PAYLOAD,
  },
};
const CASES = METHODS.flatMap((method) => (Object.keys(FORMS) as Form[]).map((form) => [method, form] as const));

/** The cache answers GET and HEAD itself (HEAD fetched as GET, request body dropped); the rest pass through. */
const isCacheable = (method: string) => method === 'GET' || method === 'HEAD';

describe('every method and request framing reaches the origin at once (issue 12.1)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let origin: TestOrigin;
  let cache: StartedCache;
  let down: StartedCache;
  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (req, res, body) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`${req.method} ${body.length}`);
      },
    });
    // The timeout is far above what a forwarded request takes: reaching it is the bug.
    cache = await startCache(origin.url, `${dir.dir}/up`, { originTimeout: 4_000 });
    down = await startCache(`http://127.0.0.1:${await deadPort()}`, `${dir.dir}/down`, { originTimeout: 4_000 });
  });
  afterAll(async () => {
    // Nothing the cache forwarded was ever read by the origin as a request of its own.
    expect(origin.count('/smuggled')).toBe(0);
    await cache?.close();
    await down?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  const send = (base: string, method: string, path: string, form: Form) =>
    rawExchange(
      base,
      `${method} ${path} HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\n${FORMS[form].framing}\r\n${FORMS[form].body}`,
      10_000,
    );

  test.each(CASES)('%s with %s: the origin gets it, the client gets its answer', async (method, form) => {
    const path = `/up/${method}/${form}`;
    const exchange = await send(cache.url, method, path, form);
    const responses = parseResponses(exchange.text, () => method === 'HEAD');
    expect(responses).toHaveLength(1);
    const [reply] = responses;
    expect(reply?.status).toBe(200);
    expect(reply?.headers['x-cache']).toBe(isCacheable(method) ? 'MISS' : 'BYPASS');

    const sent = isCacheable(method) ? '' : FORMS[form].sent;
    const seen = origin.requests.filter((r) => r.url === path);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe(method === 'HEAD' ? 'GET' : method);
    expect(seen[0]?.body.toString('latin1')).toBe(sent);
    // The origin could frame what it got: a length that matches, chunked, or nothing for nothing.
    const { 'content-length': length, 'transfer-encoding': coding } = seen[0]?.headers ?? {};
    if (sent === '') {
      expect(coding).toBeUndefined();
      expect([undefined, '0']).toContain(length);
    } else {
      expect(length === String(sent.length) || coding === 'chunked').toBe(true);
    }
    if (method !== 'HEAD') expect(reply?.body).toBe(`${method} ${sent.length}`);
  });

  test.each(CASES)(
    '%s with %s, origin down: 502 at once, X-Cache says whether it was cacheable',
    async (method, form) => {
      const exchange = await send(down.url, method, `/down/${method}/${form}`, form);
      const [reply, ...more] = parseResponses(exchange.text, () => method === 'HEAD');
      expect(more).toHaveLength(0);
      expect(reply?.status).toBe(502);
      expect(reply?.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_UNREACHABLE');
      // A pass-through that failed is still a pass-through: BYPASS, never MISS.
      expect(reply?.headers['x-cache']).toBe(isCacheable(method) ? 'MISS' : 'BYPASS');
      expect(exchange.closedByServer).toBe(true);
    },
  );

  test('a method token the HTTP parser does not know is refused (405) and never forwarded', async () => {
    const before = origin.count();
    const exchange = await rawExchange(cache.url, 'FROB /up/frob HTTP/1.1\r\nHost: cache.test\r\n\r\n');
    // 405 with the catalogue's code (issue 12.11: Varnish's BAN is such a method).
    expect(exchange.statuses).toEqual([405]);
    expect(exchange.text).toMatch(/x-cache-error: CACHE_ERR_METHOD_NOT_ALLOWED/i);
    expect(exchange.closedByServer).toBe(true);
    expect(origin.count()).toBe(before);
  });

  test('a request pipelined behind a bodiless DELETE is answered in order on the same connection', async () => {
    const exchange = await rawExchange(
      cache.url,
      'DELETE /pipe/1 HTTP/1.1\r\nHost: cache.test\r\n\r\n' +
        'PUT /pipe/2 HTTP/1.1\r\nHost: cache.test\r\n\r\n' +
        'GET /pipe/3 HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\n\r\n',
      10_000,
    );
    const replies = parseResponses(exchange.text);
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'DELETE 0'],
      [200, 'PUT 0'],
      [200, 'GET 0'],
    ]);
    expect(origin.requests.filter((r) => r.url.startsWith('/pipe/')).map((r) => r.method)).toEqual([
      'DELETE',
      'PUT',
      'GET',
    ]);
  });

  test.each(CASES.filter(([method]) => isCacheable(method)))(
    '%s with %s passed through (If-Match): forwarded without the body, as the cache fetches it',
    async (method, form) => {
      const path = `/if-match/${method}/${form}`;
      const exchange = await rawExchange(
        cache.url,
        `${method} ${path} HTTP/1.1\r\nHost: cache.test\r\nIf-Match: "v1"\r\nConnection: close\r\n${FORMS[form].framing}\r\n${FORMS[form].body}`,
        10_000,
      );
      const [reply, ...more] = parseResponses(exchange.text, () => method === 'HEAD');
      expect(more).toHaveLength(0);
      expect(reply?.status).toBe(200);
      expect(reply?.headers['x-cache']).toBe('BYPASS');
      if (method === 'GET') expect(reply?.body).toBe('GET 0');
      const seen = origin.requests.filter((r) => r.url === path);
      expect(
        seen.map((r) => [r.method, r.body.length, r.headers['content-length'], r.headers['transfer-encoding']]),
      ).toEqual([[method, 0, undefined, undefined]]);
    },
  );

  /** What curl sends for each form: nothing, `-d ''` (Content-Length: 0), a body, a chunked body. */
  const CURL_FORMS: Record<Form, string[]> = {
    none: [],
    'content-length-0': ['--data-binary', ''],
    body: ['--data-binary', PAYLOAD],
    chunked: ['-H', 'Transfer-Encoding: chunked', '--data-binary', PAYLOAD],
  };
  const CURL_CASES = CASES.filter(([method, form]) => method !== 'HEAD' || form === 'none');

  test.each(CURL_CASES)('curl -X %s with %s', async (method, form) => {
    const path = `/curl/${method}/${form}`;
    const methodArgs = method === 'HEAD' ? ['-I'] : ['-X', method];
    const { stdout, code } = await runCurl(['-s', '-i', ...methodArgs, ...CURL_FORMS[form], `${cache.url}${path}`]);
    expect(code).toBe(0);
    const [reply] = parseResponses(stdout, () => method === 'HEAD');
    expect(reply?.status).toBe(200);
    expect(reply?.headers['x-cache']).toBe(isCacheable(method) ? 'MISS' : 'BYPASS');
    const sent = isCacheable(method) ? '' : FORMS[form].sent;
    const seen = origin.requests.filter((r) => r.url === path);
    expect(seen.map((r) => [r.method, r.body.toString('latin1')])).toEqual([
      [method === 'HEAD' ? 'GET' : method, sent],
    ]);
  });

  test.each(CURL_CASES)('curl -X %s with %s, origin down: 502 BYPASS/MISS', async (method, form) => {
    const methodArgs = method === 'HEAD' ? ['-I'] : ['-X', method];
    const { stdout } = await runCurl(['-s', '-i', ...methodArgs, ...CURL_FORMS[form], `${down.url}/curl/${method}`]);
    const [reply] = parseResponses(stdout, () => method === 'HEAD');
    expect(reply?.status).toBe(502);
    expect(reply?.headers['x-cache']).toBe(isCacheable(method) ? 'MISS' : 'BYPASS');
  });
});

describe('the origin timeout does not run while the client is still sending its body', () => {
  const ORIGIN_TIMEOUT = 300;
  const held = new Set<http.ServerResponse>();
  const env = useOriginAndCache(
    {
      '/upload': (req, res, body) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${req.method} ${body.length}`);
      },
      '/upload-then-hang': (_req, res) => void held.add(res),
    },
    { originTimeout: ORIGIN_TIMEOUT },
  );
  afterAll(() => {
    for (const res of held) res.destroy();
  });

  /** Sends the head and half the body, stalls for `stallMs` (the client's pace), then the rest. */
  const slowUpload = (path: string, stallMs: number): Promise<ReadResponse> => {
    const url = new URL(env.cache.url);
    const socket = net.connect(Number(url.port), url.hostname);
    socket.write(`POST ${path} HTTP/1.1\r\nHost: cache.test\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello`);
    const reply = readSocket(socket);
    setTimeout(() => socket.write('world'), stallMs);
    return reply;
  };

  test('a client that pauses mid-body for three origin timeouts: the origin gets all of it and answers', async () => {
    const reply = await slowUpload('/upload', 3 * ORIGIN_TIMEOUT);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toContain('POST 10');
    expect(env.origin.requests.filter((r) => r.url === '/upload').map((r) => r.body.toString())).toEqual([
      'helloworld',
    ]);
  });

  test('once the body is sent, an origin that never answers is a 504 after --origin-timeout', async () => {
    const reply = await slowUpload('/upload-then-hang', 3 * ORIGIN_TIMEOUT);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-cache']).toBe('BYPASS');
    expect(held.size).toBe(1);
  });
});
