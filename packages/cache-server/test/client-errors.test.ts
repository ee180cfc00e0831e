// @system-packages curl
/**
 * Requests Node refuses before any route sees them get the cache's own error answer (issue 12.11;
 * FINDINGS F6, F7): Varnish's `BAN` (a method Node's parser does not know) and `CONNECT` a 405
 * with X-Cache-Error and Allow, a request Node cannot parse a 400, an oversized head a 431, each
 * with a catalogue code, a closed connection and one log line that holds no request bytes; and
 * after a response that said `Connection: close`, pipelined bytes get no second answer.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { promisify } from 'node:util';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { rawExchange } from './helpers/raw.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { field, readResponses } from './helpers/wire.js';

const run = promisify(execFile);
const SECRET = 'Bearer client-error-secret-7f3a';

describe('what Node refuses before the router gets the cache’s error answer', () => {
  const { logger, lines } = captureLog('info', { cacheLogger: true });
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cache: StartedCache;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (_req, res) => {
        res.writeHead(200, { 'content-length': 2 });
        res.end('ok');
      },
    });
    cache = await startTestCache({ origin: origin.url, cacheDir: dir.dir, maxHeaderSize: 4096 }, { logger });
  });
  afterAll(async () => {
    await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  const logged = (code: string) => lines.filter((line) => line.code === code);

  test.each([
    ['BAN (Varnish)', `BAN /a HTTP/1.1\r\nHost: x\r\nAuthorization: ${SECRET}\r\n\r\n`, 'BAN'],
    [
      'CONNECT (the cache is no forward proxy)',
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      'CONNECT',
    ],
    ['a method in lower case (methods are case-sensitive)', 'get /a HTTP/1.1\r\nHost: x\r\n\r\n', 'get'],
  ])('%s: 405 CACHE_ERR_METHOD_NOT_ALLOWED with Allow, closed, one log line', async (_label, data, method) => {
    const before = origin.count();
    const reply = await rawExchange(cache.url, data);
    expect(reply.statuses).toEqual([405]);
    expect(reply.text).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    expect(reply.text).toMatch(/\r\nx-cache-error: CACHE_ERR_METHOD_NOT_ALLOWED\r\n/);
    expect(reply.text).toMatch(/\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, PURGE\r\n/);
    expect(reply.text).toMatch(/\r\ncache-status: simple-cache; detail=CACHE_ERR_METHOD_NOT_ALLOWED\r\n/);
    expect(reply.text).toMatch(
      /\r\n\r\n405 This cache does not take that method\. \(CACHE_ERR_METHOD_NOT_ALLOWED\)\n$/,
    );
    expect(reply.closedByServer).toBe(true);
    expect(origin.count()).toBe(before);
    expect(logged('CACHE_ERR_METHOD_NOT_ALLOWED').filter((line) => line.method === method)).toHaveLength(1);
  });

  test('curl -X BAN gets the same 405', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-X',
      'BAN',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %header{x-cache-error}',
      `${cache.url}/a`,
    ]);
    expect(stdout).toBe('405 CACHE_ERR_METHOD_NOT_ALLOWED');
  });

  test('a request Node cannot parse: 400 CACHE_ERR_MALFORMED_REQUEST', async () => {
    const reply = await rawExchange(
      cache.url,
      `GET /a HTTP/1.1\r\nHost: x\r\nBad Header\r\nAuthorization: ${SECRET}\r\n\r\n`,
    );
    expect(reply.statuses).toEqual([400]);
    expect(reply.text).toMatch(/\r\nx-cache-error: CACHE_ERR_MALFORMED_REQUEST\r\n/);
    expect(reply.closedByServer).toBe(true);
    expect(logged('CACHE_ERR_MALFORMED_REQUEST').length).toBeGreaterThanOrEqual(1);
  });

  test('a request head over --max-header-size: 431 CACHE_ERR_HEADERS_TOO_LARGE', async () => {
    const reply = await rawExchange(cache.url, `GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(8000)}\r\n\r\n`);
    expect(reply.statuses).toEqual([431]);
    expect(reply.text).toMatch(/\r\nx-cache-error: CACHE_ERR_HEADERS_TOO_LARGE\r\n/);
  });

  test('after its own 400 with Connection: close, pipelined bytes get no second answer (RFC 9112 §9.6)', async () => {
    const before = origin.count();
    const reply = await rawExchange(
      cache.url,
      'POST /x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(reply.statuses).toEqual([400]);
    expect(reply.text).toMatch(/\r\nx-cache-error: CACHE_ERR_BAD_FRAMING\r\n/);
    expect(reply.closedByServer).toBe(true);
    expect(origin.count()).toBe(before);
  });

  test.each([
    ['a malformed request', 'GET /a HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, 'CACHE_ERR_MALFORMED_REQUEST'],
    [
      'a head over --max-header-size',
      `GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(8000)}`,
      431,
      'CACHE_ERR_HEADERS_TOO_LARGE',
    ],
    [
      'BAN with a body',
      'BAN /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n',
      405,
      'CACHE_ERR_METHOD_NOT_ALLOWED',
    ],
    [
      'CONNECT',
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      405,
      'CACHE_ERR_METHOD_NOT_ALLOWED',
    ],
  ])(
    '%s followed by 4 MB more: the client still reads the whole answer, one log line',
    async (_label, refused, status, code) => {
      const before = lines.length;
      const accepted = once(cache.app.server, 'connection') as Promise<[net.Socket]>;
      const client = net.connect(Number(new URL(cache.url).port), '127.0.0.1');
      // A client busy writing: it reads nothing until it has sent everything (or the cache stopped taking it).
      client.pause();
      await once(client, 'connect');
      let error: string | undefined;
      client.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code));
      const sent = new Promise<void>((resolve) => {
        client.write(refused);
        client.write(Buffer.alloc(4 * 1024 * 1024, 'x'), () => resolve());
      });
      const [socket] = await accepted;
      // The cache has answered and ended its side (the answer is in its kernel), or closed the connection.
      await Promise.race([once(socket, 'finish'), once(socket, 'close')]);
      await sent;
      const chunks: Buffer[] = [];
      client.on('data', (chunk: Buffer) => chunks.push(chunk));
      client.resume();
      await once(client, 'close');
      // Complete (framed by its Content-Length) and alone, the connection closed without a reset.
      const reading = readResponses(Buffer.concat(chunks), ['GET'], true);
      const [response] = reading.responses;
      expect({
        responses: reading.responses.length,
        end: reading.end.kind,
        status: response?.status,
        code: field(response?.fields ?? [], 'x-cache-error'),
        error,
      }).toEqual({ responses: 1, end: 'clean', status, code, error: undefined });
      // Node reports every read after its parser failed again: those are not new requests.
      expect(lines.slice(before).filter((line) => line.code === code)).toHaveLength(1);
    },
  );

  test('the log holds none of the refused requests’ bytes', () => {
    expect(JSON.stringify(lines)).not.toContain('client-error-secret');
  });

  test('and the cache still serves', async () => {
    expect(
      (await rawExchange(cache.url, 'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).statuses,
    ).toEqual([200]);
  });
});
