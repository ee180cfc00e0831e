import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { connectH2 } from './helpers/h2.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/**
 * Over HTTP/2 a fault of one stream is that stream's: the connection carries the page's other
 * requests. nginx answers a bad request on its stream and keeps the connection; the cache turned
 * every refusal that closes an HTTP/1.1 connection into a GOAWAY, so one bad URL on a page sent
 * the browser to a new connection for everything after it.
 *
 * A browser cancels downloads all the time (a video seeked, a page left, images scrolled past):
 * RST_STREAM CANCEL on streams whose response is still being written. Node counts the bytes
 * queued for such a stream against the session's `maxSessionMemory` (10 MB by default) and never
 * gives them back, so after some megabytes of cancelled downloads every new stream on that
 * connection was refused with RST_STREAM ENHANCE_YOUR_CALM, forever (FINDINGS F21): the page's
 * next requests failed though the cache was idle. Real memory is bounded by each stream's flow
 * control and the cache's back-pressure, and streams by --max-streams.
 */
const SIZE = 3 * 1024 * 1024;
const body = Buffer.alloc(SIZE, 'v');

describe("HTTP/2: one stream's fault stays on that stream", () => {
  const env = useTlsOriginAndCache(
    {
      '*': (req, res) => {
        const store = req.url?.startsWith('/stored') ?? false;
        res.writeHead(200, { 'content-length': SIZE, 'cache-control': store ? 'max-age=600' : 'no-store' });
        res.end(body);
      },
    },
    { maxBodySize: 1_000 },
  );
  let session: ClientHttp2Session;
  beforeAll(async () => {
    session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
  });
  afterAll(() => session?.close());

  /** One GET: 'whole', 'cancelled' (we reset it once its head came) or the stream error's message. */
  const get = (path: string, cancel: boolean) =>
    new Promise<string>((resolve) => {
      const stream = session.request({ ':path': path });
      let bytes = 0;
      stream.on('response', () => {
        if (cancel) setImmediate(() => stream.close(http2.constants.NGHTTP2_CANCEL));
      });
      stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
      stream.on('error', (error: Error) => resolve(error.message));
      stream.on('close', () => resolve(cancel ? 'cancelled' : bytes === SIZE ? 'whole' : `${bytes} bytes`));
    });

  test.each<[string, OutgoingHttpHeaders, number]>([
    ['a target that is no path (400)', { ':path': '/%zz' }, 400],
    [
      'a Host that differs from :authority (400)',
      { ':path': '/x', ':authority': 'good.example', host: 'evil.example' },
      400,
    ],
    ['a body over --max-body-size (413)', { ':path': '/x', ':method': 'POST', 'content-length': '5000' }, 413],
  ])('%s: answered on its stream; the connection goes on, no GOAWAY', async (_name, headers, status) => {
    let goaway = false;
    session.once('goaway', () => (goaway = true));
    const answer = await new Promise<number>((resolve, reject) => {
      const stream = session.request(headers, { endStream: headers[':method'] !== 'POST' });
      stream.on('response', (h) => resolve(Number(h[':status'])));
      stream.on('error', reject);
      stream.resume();
      if (headers[':method'] === 'POST') stream.end(Buffer.alloc(5_000));
    });
    expect(answer).toBe(status);
    expect(await get('/passed/next', false)).toBe('whole');
    expect(goaway).toBe(false);
    expect(session.closed).toBe(false);
  });

  test.each(['/stored', '/passed'])(
    'rounds of 20 downloads of %s, half cancelled mid-body, then a fresh stream: all answered',
    async (prefix) => {
      for (let round = 0; round < 4; round++) {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${prefix}/${i % 4}`, i % 2 === 1)));
        expect(results.filter((r) => r !== 'cancelled' && r !== 'whole')).toEqual([]);
        expect(await get(`${prefix}/after`, false)).toBe('whole');
      }
    },
  );
});
