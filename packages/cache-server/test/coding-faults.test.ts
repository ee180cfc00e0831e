import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { field, readResponses } from './helpers/wire.js';

/**
 * An origin that compresses without `Vary: Accept-Encoding`: the cache stores its one copy and
 * decodes it on the fly for clients that do not take the coding, and that includes every client
 * that sends no Accept-Encoding at all (plain curl, wget, most HTTP libraries). When the origin's
 * gzip is corrupt, such a client used to get an empty reply (the connection closed before any
 * byte, no log line) on every hit for the entry's lifetime; now a 502 with its code on a hit, and
 * a log line when the miss, whose head is already out, has to be cut.
 */
const TEXT = Buffer.from(
  Array.from({ length: 40_000 }, (_, i) => `line ${i} of a page the origin compressed\n`).join(''),
);
const GOOD = zlib.gzipSync(TEXT);
/** The start of a real gzip stream, then bytes that are not deflate data. */
const CORRUPT = Buffer.concat([GOOD.subarray(0, 30), Buffer.from('garbage garbage garbage garbage')]);

function gzipped(body: Buffer): string {
  return (
    'HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Type: text/plain\r\n' +
    `Content-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`
  );
}

describe('a stored body in a coding that does not decode', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const { logger, lines } = captureLog('info');

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '*': (socket, head) => {
        const body = head.includes('/good') ? GOOD : CORRUPT;
        socket.write(Buffer.concat([Buffer.from(gzipped(body)), body]));
      },
    });
    cache = await startTestCache({ origin: origin.url, cacheDir: dir.dir }, { logger });
  });
  afterAll(async () => {
    await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  const get = async (path: string, fields = '') => {
    const exchange = await rawExchange(
      cache.url,
      `GET ${path} HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`,
    );
    return readResponses(Buffer.from(exchange.text, 'latin1'), ['GET'], exchange.closedByServer);
  };
  const stored = () => waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');

  test('a hit answers a client that does not take gzip with 502 CACHE_ERR_ORIGIN_BAD_RESPONSE, not an empty reply; gzip clients get the bytes the origin sent', async () => {
    const first = await get('/hit-corrupt', 'Accept-Encoding: gzip\r\n');
    expect(first.responses[0]?.body.equals(CORRUPT)).toBe(true);
    await stored();
    for (const fields of ['', 'Accept-Encoding: identity\r\n', 'Accept-Encoding: br\r\n']) {
      const reading = await get('/hit-corrupt', fields);
      const [response] = reading.responses;
      expect({ fields, status: response?.status, end: reading.end.kind }).toEqual({
        fields,
        status: 502,
        end: 'clean',
      });
      const of = (name: string) => field(response?.fields ?? [], name);
      expect([of('x-cache-error'), of('x-cache')]).toEqual(['CACHE_ERR_ORIGIN_BAD_RESPONSE', 'HIT']);
    }
    expect((await get('/hit-corrupt', 'Accept-Encoding: gzip\r\n')).responses[0]?.body.equals(CORRUPT)).toBe(true);
    expect(origin.count('/hit-corrupt')).toBe(1);
  });

  test('a miss, whose head is out before the body decodes, is cut (never framed complete) and says why in the log', async () => {
    const reading = await get('/miss-corrupt');
    expect(reading.responses).toEqual([]);
    expect(reading.end).toMatchObject({ kind: 'partial', status: 200 });
    await waitFor(
      () =>
        lines.some((line) => line.code === 'CACHE_ERR_ORIGIN_BAD_RESPONSE' && /did not decode/.test(String(line.msg))),
      'the log line',
    );
  });

  test('a good gzip body is decoded whole for those clients, on the miss and on the hit', async () => {
    const sha = (body: Buffer | undefined) =>
      createHash('sha1')
        .update(body ?? Buffer.alloc(0))
        .digest('hex');
    const miss = await get('/good');
    await stored();
    const hit = await get('/good');
    expect([sha(miss.responses[0]?.body), sha(hit.responses[0]?.body)]).toEqual([sha(TEXT), sha(TEXT)]);
  });
});
