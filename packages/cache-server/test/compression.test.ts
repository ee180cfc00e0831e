import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { admin } from './helpers/admin.js';
import { startCache, tempDir, useOriginAndCache } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { request, waitFor, type Reply } from './helpers/http.js';
import { startTestOrigin, type Route } from './helpers/test-origin.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/** A 64 KiB page of text that compresses as HTML does (repeated markup, varied words). */
function page(size: number, seed = 1): Buffer {
  const words = ['cache', 'origin', 'stream', 'header', 'variant', 'entry', 'brotli', 'gzip', 'vary', 'etag'];
  let text = '<!doctype html><html><head><title>page</title></head><body>\n';
  let n = seed;
  while (text.length < size) {
    n = (n * 1103515245 + 12345) % 2 ** 31;
    text += `<p class="c${n % 7}">${words[n % words.length]} ${n.toString(36)}</p>\n`;
  }
  return Buffer.from(text.slice(0, size));
}

/** The body as the client would see it once decoded by its Content-Encoding. */
function decoded(reply: Pick<Reply, 'headers' | 'body'>): Buffer {
  const coding = reply.headers['content-encoding'];
  if (coding === 'br') return brotliDecompressSync(reply.body);
  if (coding === 'gzip') return gunzipSync(reply.body);
  if (coding === undefined) return reply.body;
  throw new Error(`unexpected coding ${String(coding)}`);
}

const PAGE = page(64 * 1024);
const html =
  (body: Buffer, extra: Record<string, string> = {}): Route =>
  (_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'max-age=600',
      'content-length': String(body.length),
      etag: '"page-v1"',
      ...extra,
    });
    res.end(body);
  };

describe('compression, stored once', () => {
  const env = useOriginAndCache({
    '/page': html(PAGE),
    '/no-transform': html(PAGE, { 'cache-control': 'max-age=600, no-transform' }),
    '/tiny': html(Buffer.from('<p>tiny</p>')),
    '/varies': html(PAGE, { vary: 'Accept-Language' }),
    // Always validated; answers 304 (with its strong tag) to any If-None-Match.
    '/validated': (req, res) => {
      if (req.headers['if-none-match'] !== undefined) return void res.writeHead(304, { etag: '"n1"' }).end();
      html(PAGE, { 'cache-control': 'no-cache', etag: '"n1"' })(req, res, Buffer.alloc(0));
    },
    '/image': (_req, res) => {
      res.writeHead(200, {
        'content-type': 'image/png',
        'cache-control': 'max-age=600',
        'content-length': String(PAGE.length),
      });
      res.end(PAGE);
    },
    // An origin that compresses itself and says nothing of Vary.
    '/pre-gzipped': (_req, res) => {
      const body = gzipSync(PAGE);
      res.writeHead(200, {
        'content-type': 'text/html',
        'content-encoding': 'gzip',
        'cache-control': 'max-age=600',
        'content-length': String(body.length),
      });
      res.end(body);
    },
  });
  const stored = () => waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entries to be stored');
  /** Whether the store holds `count` variants of the path (identity and copies). */
  const storedCodings = async (path: string, count: number) =>
    (await env.cache.store.lookup(`${env.origin.url}${path}`)).length === count;
  const get = (path: string, acceptEncoding?: string, headers: Record<string, string> = {}) =>
    request(env.cache.url, path, {
      headers: { ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}), ...headers },
    });

  test('one fetch; then br, gzip and identity clients each get their stored copy, decoding to the same bytes', async () => {
    const miss = await get('/page', 'gzip, deflate, br');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers.vary).toMatch(/accept-encoding/i);
    expect(decoded(miss).equals(PAGE)).toBe(true);
    await stored();
    // The copies commit just after the identity body: wait for the br one to be a hit.
    await waitFor(() => storedCodings('/page', 3), 'the identity body and both copies');
    const br = await get('/page', 'gzip, deflate, br');
    expect(br.headers['x-cache']).toBe('HIT');
    expect(br.headers['content-encoding']).toBe('br');
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(br.body.length).toBeLessThan(PAGE.length / 3);
    expect(br.headers.etag).toBe('W/"page-v1"');
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    expect(brotliDecompressSync(br.body).equals(PAGE)).toBe(true);

    const gz = await get('/page', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    expect(gunzipSync(gz.body).equals(PAGE)).toBe(true);

    const plain = await get('/page');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.etag).toBe('"page-v1"');
    expect(plain.body.equals(PAGE)).toBe(true);
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(env.origin.count('/page')).toBe(1);
  });

  test('the fast hit path serves the stored copies', async () => {
    await get('/page', 'br');
    await stored();
    const before = env.cache.fastHit?.served ?? 0;
    const br = await get('/page', 'br;q=1, gzip;q=0.5');
    expect(br.headers['content-encoding']).toBe('br');
    const gz = await get('/page', 'br;q=0.1, gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(env.cache.fastHit?.served).toBe(before + 2);
  });

  test('validators on the copies: If-None-Match compares weakly (304), If-Range strongly (the whole body)', async () => {
    await get('/page', 'br');
    await waitFor(() => storedCodings('/page', 3), 'the identity body and both copies');
    for (const tag of ['W/"page-v1"', '"page-v1"']) {
      const notModified = await get('/page', 'br', { 'if-none-match': tag });
      // RFC 9110 §15.4.5: the 304 carries ETag and Vary, not the body's Content-Encoding.
      expect([notModified.status, notModified.headers.etag, notModified.headers.vary]).toEqual([
        304,
        'W/"page-v1"',
        'Accept-Encoding',
      ]);
    }
    // A client resuming a br body it got with a weak tag: the tag cannot select a range (RFC 9110 §13.1.5).
    const resumed = await get('/page', 'br', { range: 'bytes=10-', 'if-range': 'W/"page-v1"' });
    expect([resumed.status, resumed.headers['content-encoding']]).toEqual([200, undefined]);
    expect(resumed.body.equals(PAGE)).toBe(true);
    const strong = await get('/page', 'br', { range: 'bytes=10-', 'if-range': '"page-v1"' });
    expect(strong.status).toBe(206);
    expect(strong.body.equals(PAGE.subarray(10))).toBe(true);
  });

  test("a copy revalidated by a 304 with the origin's strong ETag still says a weak one", async () => {
    await get('/validated', 'br');
    await waitFor(() => storedCodings('/validated', 3), 'the identity body and both copies');
    const revalidated = await get('/validated', 'br');
    expect([revalidated.headers['x-cache'], revalidated.headers['content-encoding'], revalidated.headers.etag]).toEqual(
      ['REVALIDATED', 'br', 'W/"n1"'],
    );
    // The origin was asked with its own tag, and its 304 selected the copy (RFC 9111 §4.3.4): no refetch.
    expect(env.origin.requests.filter((r) => r.url === '/validated').map((r) => r.headers['if-none-match'])).toEqual([
      undefined,
      '"n1"',
    ]);
    expect(brotliDecompressSync(revalidated.body).equals(PAGE)).toBe(true);
  });

  test('HEAD says what GET sends: the coding, its length, no Accept-Ranges on a copy', async () => {
    await get('/page', 'gzip');
    await waitFor(() => storedCodings('/page', 3), 'the identity body and both copies');
    const body = await get('/page', 'gzip');
    const head = await request(env.cache.url, '/page', { method: 'HEAD', headers: { 'accept-encoding': 'gzip' } });
    expect(head.body.length).toBe(0);
    for (const name of ['content-encoding', 'content-length', 'etag', 'vary', 'accept-ranges']) {
      expect({ name, value: head.headers[name] }).toEqual({ name, value: body.headers[name] });
    }
    expect(body.headers['accept-ranges']).toBeUndefined();
  });

  test("the origin's own Vary is kept and Accept-Encoding joins it; copies are per language too", async () => {
    const fr = { 'accept-language': 'fr' };
    const miss = await get('/varies', 'br', fr);
    expect(miss.headers.vary).toBe('Accept-Language, Accept-Encoding');
    await waitFor(() => storedCodings('/varies', 3), 'the French identity body and copies');
    const hit = await get('/varies', 'br', fr);
    expect([hit.headers['x-cache'], hit.headers['content-encoding'], hit.headers.vary]).toEqual([
      'HIT',
      'br',
      'Accept-Language, Accept-Encoding',
    ]);
    expect((await get('/varies', 'br', { 'accept-language': 'de' })).headers['x-cache']).toBe('MISS');
    expect(env.origin.count('/varies')).toBe(2);
  });

  test('a Range is cut from the identity body, whatever the client accepts', async () => {
    await get('/page', 'br');
    await stored();
    const range = await get('/page', 'br, gzip', { range: 'bytes=100-199' });
    expect(range.status).toBe(206);
    expect(range.headers['content-encoding']).toBeUndefined();
    expect(range.headers['content-range']).toBe(`bytes 100-199/${PAGE.length}`);
    expect(range.body.equals(PAGE.subarray(100, 200))).toBe(true);
  });

  test('no-transform, a body under the minimum size, a type not on the list: never compressed, no Vary added', async () => {
    for (const path of ['/no-transform', '/tiny', '/image']) {
      await get(path, 'br');
      await stored();
      const again = await get(path, 'br, gzip');
      expect({ path, xCache: again.headers['x-cache'], coding: again.headers['content-encoding'] }).toEqual({
        path,
        xCache: 'HIT',
        coding: undefined,
      });
      expect(again.headers.vary).toBeUndefined();
    }
  });

  test('what the origin compressed is stored as it is; a client that does not take gzip gets it decoded', async () => {
    const gz = await get('/pre-gzipped', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    await stored();
    const hit = await get('/pre-gzipped', 'gzip');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['content-encoding']).toBe('gzip');
    // Never compressed again; and since others get it decoded, the response varies on Accept-Encoding.
    expect(hit.headers.vary).toMatch(/accept-encoding/i);
    expect((await get('/pre-gzipped', 'br, gzip')).headers['content-encoding']).toBe('gzip');
    expect(await storedCodings('/pre-gzipped', 1)).toBe(true);
    expect(gunzipSync(hit.body).equals(PAGE)).toBe(true);
    const plain = await get('/pre-gzipped');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-length']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.body.equals(PAGE)).toBe(true);
    expect(env.origin.count('/pre-gzipped')).toBe(1);
  });

  test('a purge removes every stored coding', async () => {
    await get('/page', 'br');
    await waitFor(() => storedCodings('/page', 3), 'the identity body and both copies');
    const purged = await admin(env.cache.url, '/page', { method: 'PURGE' });
    expect(purged.status).toBe(200);
    expect(await storedCodings('/page', 0)).toBe(true);
    expect((await get('/page', 'gzip')).headers['x-cache']).toBe('MISS');
  });
});

describe('a miss still streams while it is compressed', () => {
  let release: () => void = () => {};
  const env = useOriginAndCache({
    '/slow': (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'max-age=600' });
      res.write(PAGE.subarray(0, 32 * 1024));
      release = () => res.end(PAGE.subarray(32 * 1024));
    },
  });

  test('the first half reaches a br client before the origin sends the rest; then the copies are stored', async () => {
    const http = await import('node:http');
    const received: Buffer[] = [];
    const done = new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
      http
        .get(`${env.cache.url}/slow`, { headers: { 'accept-encoding': 'br, gzip' } }, (res) => {
          res.on('data', (chunk: Buffer) => received.push(chunk));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(received) }));
        })
        .on('error', reject);
    });
    await waitFor(() => Buffer.concat(received).length >= 32 * 1024, 'the first half, before the origin finished');
    release();
    const miss = await done;
    expect(miss.headers['content-encoding']).toBeUndefined();
    expect(miss.body.equals(PAGE)).toBe(true);
    await waitFor(async () => (await env.cache.store.lookup(`${env.origin.url}/slow`)).length === 3, 'both copies');
    const hit = await request(env.cache.url, '/slow', { headers: { 'accept-encoding': 'gzip' } });
    expect(hit.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(hit.body).equals(PAGE)).toBe(true);
  });
});

describe('compression options: flag, environment, config file', () => {
  test('--compress off, CACHE_COMPRESS_TYPES, compress-min-size in a file; a bad type list is refused', async () => {
    expect(loadConfig([], {}).config.compress).toBe(true);
    expect(loadConfig(['--compress', 'off'], {}).config.compress).toBe(false);
    expect(loadConfig([], { CACHE_COMPRESS_TYPES: 'text/html, */*+json' }).config.compressTypes).toEqual([
      'text/html',
      '*/*+json',
    ]);
    const dir = await tempDir();
    try {
      const file = path.join(dir.dir, 'c.yaml');
      await writeFile(file, 'compress-min-size: 4KiB\ncompress-types: [text/css, application/javascript]\n');
      const { config } = loadConfig(['--config', file], {});
      expect([config.compressMinSize, config.compressTypes]).toEqual([4096, ['text/css', 'application/javascript']]);
    } finally {
      await dir.cleanup();
    }
    expect(() => loadConfig(['--compress-types', 'text'], {})).toThrow(/compress-types/);
  });

  describe('--compress off', () => {
    const env = useOriginAndCache({ '/page': html(PAGE) }, { compress: false });
    test('serves the identity body to a br client, with no Vary added', async () => {
      await request(env.cache.url, '/page', { headers: { 'accept-encoding': 'br' } });
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry');
      const hit = await request(env.cache.url, '/page', { headers: { 'accept-encoding': 'br' } });
      expect([hit.headers['x-cache'], hit.headers['content-encoding'], hit.headers.vary]).toEqual([
        'HIT',
        undefined,
        undefined,
      ]);
    });
  });
});

describe('compression over HTTP/2', () => {
  const env = useTlsOriginAndCache({ '/page': html(PAGE) });
  test('a browser-like h2 client gets the br copy, from the fast path', async () => {
    const session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      await h2Request(session, '/page', { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } });
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entries to be stored');
      await waitFor(
        async () =>
          (await h2Request(session, '/page', { headers: { 'accept-encoding': 'br' } })).headers['content-encoding'] ===
          'br',
        'the br copy',
      );
      const before = env.cache.fastHit?.served ?? 0;
      const hit = await h2Request(session, '/page', { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } });
      expect(env.cache.fastHit?.served).toBe(before + 1);
      expect(hit.headers['content-encoding']).toBe('br');
      expect(Number(hit.headers['content-length'])).toBe(hit.body.length);
      expect(brotliDecompressSync(hit.body).equals(PAGE)).toBe(true);
    } finally {
      await closeH2(session);
    }
  });
});

/** Any body, any listed type, any Accept-Encoding: what the client decodes is what the origin sent. */
describe('compression round-trips (property)', () => {
  const TYPES = [
    'text/html',
    'text/css',
    'application/javascript',
    'application/json',
    'image/svg+xml',
    'application/wasm',
    'image/png',
  ];
  const ACCEPT = fc.oneof(
    fc.constantFrom(
      undefined,
      '',
      'br',
      'gzip',
      'identity',
      '*',
      'gzip, deflate, br',
      'br;q=0, gzip',
      'x-gzip',
      'identity;q=0',
      'deflate',
    ),
    fc
      .array(
        fc.tuple(
          fc.constantFrom('br', 'gzip', 'deflate', 'identity', '*', 'zstd', 'x-gzip'),
          fc.constantFrom('', ';q=0', ';q=0.5', ';q=1'),
        ),
        {
          minLength: 1,
          maxLength: 4,
        },
      )
      .map((members) => members.map(([coding, q]) => `${coding}${q}`).join(', ')),
  );

  test('decoded responses equal the origin body byte for byte, with a Content-Length that matches', async () => {
    const dir = await tempDir();
    const bodies = new Map<string, { body: Buffer; type: string }>();
    const origin = await startTestOrigin({
      '*': (req, res) => {
        const found = bodies.get((req.url ?? '').split('?')[0] as string);
        if (!found) return void res.writeHead(404).end();
        res.writeHead(200, {
          'content-type': found.type,
          'cache-control': 'max-age=600',
          'content-length': String(found.body.length),
        });
        res.end(found.body);
      },
    });
    const cache = await startCache(origin.url, dir.dir);
    let n = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ minLength: 0, maxLength: 20_000 }).map((bytes) => Buffer.from(bytes)),
            fc.string({ maxLength: 30_000 }).map((text) => Buffer.from(text.repeat(3))),
          ),
          fc.constantFrom(...TYPES),
          fc.array(ACCEPT, { minLength: 1, maxLength: 4 }),
          async (body, type, accepts) => {
            const path = `/p${n++}`;
            bodies.set(path, { body, type });
            for (const accept of [...accepts, ...accepts]) {
              const reply = await request(cache.url, path, {
                headers: accept === undefined ? {} : { 'accept-encoding': accept },
              });
              expect(reply.status).toBe(200);
              if (reply.headers['content-length'] !== undefined)
                expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
              const coding = reply.headers['content-encoding'];
              if (coding !== undefined) expect(accept ?? '').toMatch(coding === 'gzip' ? /gzip|\*/ : /br|\*/);
              expect(decoded(reply).equals(body)).toBe(true);
              await waitFor(() => cache.proxy.inFlight.size === 0, 'the fetch to settle');
            }
          },
        ),
        { numRuns: 40, seed: Number(process.env.FC_SEED ?? 18) },
      );
    } finally {
      await cache.close();
      await origin.close();
      await dir.cleanup();
    }
  }, 120_000);
});
