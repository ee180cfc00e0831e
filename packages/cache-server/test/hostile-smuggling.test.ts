import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { rawExchange } from './helpers/raw.js';

/**
 * Request smuggling: a message whose length two parsers could read differently must be refused
 * at the cache, never forwarded. Node's parser (llhttp, strict) refuses most; the cache adds the
 * HTTP/1.0 + Transfer-Encoding rule and re-frames everything it forwards itself.
 */
describe('ambiguous or invalid request framing is refused, never forwarded', () => {
  const env = useOriginAndCache(
    {
      '*': (req, res, body) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
        res.end(`${req.method} ${req.url} ${body.length}`);
      },
    },
    { originTimeout: 2_000 },
  );

  const H = 'Host: x\r\n';
  test.each([
    // RFC 9112 §6.3: both framings present is how CL.TE / TE.CL smuggling starts.
    [
      'Content-Length with Transfer-Encoding',
      `POST /s HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`,
    ],
    [
      'Transfer-Encoding with Content-Length',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`,
    ],
    [
      'two different Content-Lengths (RFC 9112 §6.3)',
      `POST /s HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
    ],
    ['two equal Content-Lengths', `POST /s HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`],
    ['a Content-Length list', `POST /s HTTP/1.1\r\n${H}Content-Length: 4, 4\r\n\r\nabcd`],
    ['a signed Content-Length', `POST /s HTTP/1.1\r\n${H}Content-Length: +4\r\n\r\nabcd`],
    ['a hex Content-Length', `POST /s HTTP/1.1\r\n${H}Content-Length: 0x4\r\n\r\nabcd`],
    ['an unknown transfer coding', `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
    [
      'chunked not last (RFC 9112 §6.3)',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    ],
    [
      'Transfer-Encoding twice',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    [
      'whitespace before the colon (RFC 9112 §5.1)',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['obsolete line folding (RFC 9112 §5.2)', `GET /s HTTP/1.1\r\n${H}X-A: one\r\n two\r\n\r\n`],
    [
      'Transfer-Encoding folded onto the next line',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['bare LF line endings', `GET /s HTTP/1.1\n${H.replace('\r', '')}\n`],
    ['a bare CR inside a field', `GET /s HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`],
    ['NUL inside a field', `GET /s HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`],
    ['a space in a field name', `GET /s HTTP/1.1\r\n${H}X A: 1\r\n\r\n`],
    ['a control character in the method', `G\x01T /s HTTP/1.1\r\n${H}\r\n`],
    ['an unknown HTTP version', `GET /s HTTP/1.2\r\n${H}\r\n`],
    ['no Host in HTTP/1.1 (RFC 9112 §3.2)', `GET /s HTTP/1.1\r\n\r\n`],
    [
      'invalid characters in a chunk extension',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4;a=b\x01\r\nabcd\r\n0\r\n\r\n`,
    ],
    [
      'an overflowing chunk size',
      `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabcd\r\n0\r\n\r\n`,
    ],
    ['bare LF after a chunk size', `POST /s HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4\nabcd\n0\n\n`],
    [
      'Transfer-Encoding in HTTP/1.0 (RFC 9112 §6.1: faulty framing)',
      `POST /s HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
  ])('%s → 400, connection closed, nothing reaches the origin', async (_rule, raw) => {
    const before = env.origin.requests.length;
    const reply = await rawExchange(env.cache.url, raw);
    expect(reply.statuses).toEqual([400]);
    expect(reply.closedByServer).toBe(true);
    expect(env.origin.requests.length).toBe(before);
  });

  test('a GET with a body: the body is never forwarded, nor read as a second request', async () => {
    const smuggled = `GET /admin HTTP/1.1\r\n${H}\r\n`;
    const raw = `GET /fat HTTP/1.1\r\n${H}Connection: close\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`;
    const reply = await rawExchange(env.cache.url, raw);
    // Sent with its Content-Length but no body, the GET would keep the origin waiting: a 504.
    expect(reply.statuses).toEqual([200]);
    expect(reply.text).toContain('GET /fat 0');
    const seen = env.origin.requests.filter((r) => r.url === '/fat');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['content-length']).toBeUndefined();
    expect(env.origin.requests.some((r) => r.url === '/admin')).toBe(false);
  });

  test('a chunked body is forwarded with one unambiguous framing', async () => {
    const raw = `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
    const reply = await rawExchange(env.cache.url, raw);
    expect(reply.statuses).toEqual([200]);
    const seen = env.origin.requests.filter((r) => r.url === '/up');
    expect(seen.map((r) => r.body.toString())).toEqual(['hello']);
    const headers = seen[0]?.headers ?? {};
    expect(headers['content-length'] !== undefined && headers['transfer-encoding'] !== undefined).toBe(false);
  });

  test('two valid pipelined requests are answered in order (the control case)', async () => {
    const raw = `GET /one HTTP/1.1\r\n${H}\r\nGET /two HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
    const reply = await rawExchange(env.cache.url, raw);
    expect(reply.statuses).toEqual([200, 200]);
    expect(reply.text.indexOf('GET /one')).toBeLessThan(reply.text.indexOf('GET /two'));
  });
});
