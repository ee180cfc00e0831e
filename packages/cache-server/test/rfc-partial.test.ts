import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import fc from 'fast-check';
import type { EntryMeta } from '@simple-cache/common';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { cacheStatusOf, startHarness, type Harness } from './helpers/rfc-harness.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { admin, PREFIX } from './helpers/admin.js';
import type { Route } from './helpers/test-origin.js';

/** 100 distinct bytes, so a byte out of place shows. */
const BODY = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) % 256));
const LENGTH = BODY.length;

/**
 * An origin that implements Range itself (RFC 9110 §14), independently of the cache's parser:
 * one `bytes=` spec in any of its three forms → 206; anything else (no Range, several specs) →
 * the whole 200, which a server may always send. `etag()` is read per request, so a test can
 * change the representation.
 */
function rangeOrigin(
  body: () => Buffer,
  etag: () => string | undefined,
  cacheControl = 'max-age=600',
  extra: () => Record<string, string> = () => ({}),
): Route {
  return (req, res) => {
    const bytes = body();
    const headers: Record<string, string | number> = {
      'cache-control': cacheControl,
      date: httpDate(),
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      ...extra(),
    };
    const tag = etag();
    if (tag !== undefined) headers.etag = tag;
    const range = oneRange(String(req.headers.range ?? ''), bytes.length);
    const ifRange = req.headers['if-range'];
    if (range === undefined || (ifRange !== undefined && ifRange !== tag)) {
      res.writeHead(200, { ...headers, 'content-length': bytes.length });
      return void res.end(bytes);
    }
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${bytes.length}`, 'content-length': 0 });
      return void res.end();
    }
    const [start, end] = range;
    res.writeHead(206, {
      ...headers,
      'content-range': `bytes ${start}-${end}/${bytes.length}`,
      'content-length': end - start + 1,
    });
    res.end(bytes.subarray(start, end + 1));
  };
}

function oneRange(header: string, length: number): [number, number] | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') return [Math.max(0, length - Number(match[2])), length - 1];
  const start = Number(match[1]);
  if (start >= length) return 'unsatisfiable';
  return [start, match[2] === '' ? length - 1 : Math.min(Number(match[2]), length - 1)];
}

function parts(h: Harness, key: string): Promise<EntryMeta[]> {
  return h.cache.store.lookup(`${h.origin.url}${key}`).then((all) => all.filter((entry) => entry.part !== undefined));
}

describe('partial content: stored 206s reused and combined (RFC 9111 §3.3, §3.4)', () => {
  let h: Harness;
  let etag = '"v1"';

  beforeAll(async () => {
    const routes: Record<string, Route> = {};
    for (const path of ['/forms', '/combine', '/whole', '/changed', '/multi', '/head', '/416', '/purge', '/outside']) {
      routes[path] = rangeOrigin(
        () => BODY,
        () => (path === '/changed' ? etag : '"v1"'),
      );
    }
    routes['/no-validator'] = rangeOrigin(
      () => BODY,
      () => undefined,
    );
    // RFC 9110 §8.8.2.2: a Last-Modified an hour before Date is strong for a cache; one second is not.
    for (const [path, seconds] of [
      ['/last-modified', 3600],
      ['/last-modified-recent', 1],
    ] as const) {
      // The hour-old one is fixed once: taken per response, two parts fetched either side of a
      // second boundary had different validators and were rightly not combined (a flake under load).
      const fixedHourAgo = new Date(Date.now() - seconds * 1000).toUTCString();
      routes[path] = rangeOrigin(
        () => BODY,
        () => undefined,
        'max-age=600',
        () => ({
          'last-modified': seconds === 1 ? new Date(Date.now() - 1000).toUTCString() : fixedHourAgo,
        }),
      );
    }
    h = await startHarness(routes, { rangeFetchMax: 10 });
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a Range above --range-fetch-max goes to the origin; its 206 is stored and every form inside it is a HIT', async () => {
    const first = await h.get('/forms', { range: 'bytes=-20' });
    expect([first.status, first.headers['content-range'], first.headers['x-cache']]).toEqual([
      206,
      'bytes 80-99/100',
      'MISS',
    ]);
    expect(cacheStatusOf(first)).toBe('fwd=uri-miss; fwd-status=206; stored');
    expect(first.body.equals(BODY.subarray(80))).toBe(true);
    // The whole fetch found the object too large; then the client's Range went as it was.
    expect(h.origin.requests.at(-1)?.headers.range).toBe('bytes=-20');
    await h.settle();
    const seen = h.seen('/forms');
    const inside: [string, number, number][] = [
      ['bytes=85-90', 85, 90], // byte-range-spec
      ['bytes=90-', 90, 99], // absent last-pos
      ['bytes=-5', 95, 99], // suffix-byte-range-spec
      ['bytes=80-1000', 80, 99], // last-pos past the end
      ['bytes=-20', 80, 99], // the range stored
      [' bytes = 81-82 '.trim(), 81, 82],
    ];
    for (const [range, start, end] of inside) {
      const reply = await h.get('/forms', { range });
      expect([range, reply.status, reply.headers['x-cache'], reply.headers['content-range']]).toEqual([
        range,
        206,
        'HIT',
        `bytes ${start}-${end}/${LENGTH}`,
      ]);
      expect(reply.body.equals(BODY.subarray(start, end + 1))).toBe(true);
      expect(reply.headers['content-length']).toBe(String(end - start + 1));
      expect(cacheStatusOf(reply)).toMatch(/^hit; ttl=\d+; detail=partial$/);
    }
    expect(h.seen('/forms')).toBe(seen);
  });

  test('several ranges inside a part: multipart/byteranges from storage', async () => {
    await h.get('/multi', { range: 'bytes=50-89' });
    await h.settle();
    const reply = await h.get('/multi', { range: 'bytes=50-51, 88-89' });
    expect([reply.status, reply.headers['x-cache']]).toEqual([206, 'HIT']);
    const boundary = /boundary=(.+)$/.exec(String(reply.headers['content-type']))?.[1] ?? '';
    const text = reply.body.toString('latin1');
    expect(text).toContain('Content-Range: bytes 50-51/100');
    expect(text).toContain('Content-Range: bytes 88-89/100');
    expect(text).toContain(BODY.subarray(50, 52).toString('latin1'));
    expect(text).toContain(BODY.subarray(88, 90).toString('latin1'));
    expect(text.endsWith(`--${boundary}--\r\n`)).toBe(true);
    expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
  });

  test('a range not wholly inside goes to the origin (once: the parts tell the length), and is stored as another part', async () => {
    await h.get('/outside', { range: 'bytes=20-39' });
    await h.settle();
    // The first miss tried the whole object (its length unknown) before sending the Range.
    expect(h.seen('/outside')).toBe(2);
    for (const range of ['bytes=10-25', 'bytes=30-45']) {
      const reply = await h.get('/outside', { range });
      expect([range, reply.status, reply.headers['x-cache']]).toEqual([range, 206, 'MISS']);
      expect(h.origin.requests.at(-1)?.headers.range).toBe(range);
      await h.settle();
    }
    expect(h.seen('/outside')).toBe(4);
    expect(await parts(h, '/outside')).toHaveLength(3);
    // Bytes 10-45 are held by three overlapping parts: one range across them comes from storage.
    const across = await h.get('/outside', { range: 'bytes=10-45' });
    expect([across.status, across.headers['x-cache'], across.headers['content-range']]).toEqual([
      206,
      'HIT',
      'bytes 10-45/100',
    ]);
    expect(across.body.equals(BODY.subarray(10, 46))).toBe(true);
    expect(h.seen('/outside')).toBe(4);
  });

  test('parts that add up become one complete response: a GET without Range is then a HIT', async () => {
    await h.get('/combine', { range: 'bytes=0-59' });
    await h.settle();
    expect(await parts(h, '/combine')).toHaveLength(1);
    const second = await h.get('/combine', { range: 'bytes=40-99' });
    expect(second.body.equals(BODY.subarray(40))).toBe(true);
    await h.settle();
    expect(await parts(h, '/combine')).toHaveLength(0);
    const seen = h.seen('/combine');
    const full = await h.get('/combine');
    expect([
      full.status,
      full.headers['x-cache'],
      full.headers['content-length'],
      full.headers['content-range'],
    ]).toEqual([200, 'HIT', '100', undefined]);
    expect(full.body.equals(BODY)).toBe(true);
    const range = await h.get('/combine', { range: 'bytes=55-65' });
    expect([range.status, range.headers['x-cache']]).toEqual([206, 'HIT']);
    expect(range.body.equals(BODY.subarray(55, 66))).toBe(true);
    expect(h.seen('/combine')).toBe(seen);
  });

  test('a part never answers a GET or HEAD without Range: the whole is fetched, and replaces the parts', async () => {
    await h.get('/whole', { range: 'bytes=0-49' });
    await h.settle();
    const head = await h.get('/whole', {}, 'HEAD');
    expect([head.status, head.headers['x-cache'], head.headers['content-length']]).toEqual([200, 'MISS', '100']);
    expect(h.origin.requests.at(-1)?.headers.range).toBeUndefined();
    await h.settle();
    expect(await parts(h, '/whole')).toHaveLength(0);
    const full = await h.get('/whole');
    expect([full.status, full.headers['x-cache']]).toEqual([200, 'HIT']);
    expect(full.body.equals(BODY)).toBe(true);
  });

  test('a HEAD with Range on a part is a miss too (HEAD has no range semantics)', async () => {
    await h.get('/head', { range: 'bytes=0-49' });
    await h.settle();
    const head = await h.get('/head', { range: 'bytes=0-9' }, 'HEAD');
    expect([head.status, head.headers['x-cache']]).toEqual([200, 'MISS']);
  });

  test('a part whose validator differs replaces the others (§3.4)', async () => {
    etag = '"v1"';
    await h.get('/changed', { range: 'bytes=0-49' });
    await h.settle();
    etag = '"v2"';
    await h.get('/changed', { range: 'bytes=50-99' });
    await h.settle();
    const stored = await parts(h, '/changed');
    expect(stored.map((entry) => [entry.headers.etag, entry.part?.start])).toEqual([['"v2"', 50]]);
    // The v1 bytes are not served any more, and nothing was combined across versions.
    const old = await h.get('/changed', { range: 'bytes=0-9' });
    expect(old.headers['x-cache']).toBe('MISS');
    expect((await h.get('/changed')).headers['x-cache']).toBe('MISS');
  });

  test('without a strong validator parts are reused but never combined', async () => {
    await h.get('/no-validator', { range: 'bytes=0-49' });
    await h.settle();
    await h.get('/no-validator', { range: 'bytes=50-99' });
    await h.settle();
    expect((await h.get('/no-validator', { range: 'bytes=60-70' })).headers['x-cache']).toBe('HIT');
    const across = await h.get('/no-validator', { range: 'bytes=40-60' });
    expect(across.headers['x-cache']).toBe('MISS');
    expect((await h.get('/no-validator')).headers['x-cache']).toBe('MISS');
  });

  test('without ETags, parts combine on a Last-Modified strong for a cache (60 s before Date), not on a recent one', async () => {
    for (const [path, combined] of [
      ['/last-modified', true],
      ['/last-modified-recent', false],
    ] as const) {
      await h.get(path, { range: 'bytes=0-49' });
      await h.settle();
      await h.get(path, { range: 'bytes=50-99' });
      await h.settle();
      // Combined into the complete entry; or, not known to be of one representation, the newest part alone is kept.
      expect([path, (await parts(h, path)).length]).toEqual([path, combined ? 0 : 1]);
      const seen = h.seen(path);
      const full = await h.get(path);
      expect([path, full.headers['x-cache']]).toEqual([path, combined ? 'HIT' : 'MISS']);
      expect(full.body.equals(BODY)).toBe(true);
      const across = await h.get(path, { range: 'bytes=45-55' });
      expect(across.body.equals(BODY.subarray(45, 56))).toBe(true);
      expect(h.seen(path)).toBe(combined ? seen : seen + 1);
    }
  });

  test('a Range no byte of which exists: 416 from storage, with the complete length', async () => {
    await h.get('/416', { range: 'bytes=0-49' });
    await h.settle();
    const reply = await h.get('/416', { range: 'bytes=100-' });
    expect([reply.status, reply.headers['content-range'], reply.headers['x-cache']]).toEqual([
      416,
      'bytes */100',
      'HIT',
    ]);
  });

  test('If-Range: the stored ETag lets the part answer; another one asks the origin (RFC 9110 §13.1.5)', async () => {
    await h.get('/forms', { range: 'bytes=-20' });
    await h.settle();
    const same = await h.get('/forms', { range: 'bytes=90-91', 'if-range': '"v1"' });
    expect([same.status, same.headers['x-cache']]).toEqual([206, 'HIT']);
    const other = await h.get('/forms', { range: 'bytes=90-91', 'if-range': '"v0"' });
    expect([other.status, other.headers['x-cache']]).toEqual([200, 'MISS']);
    expect(other.body.equals(BODY)).toBe(true);
  });

  test('purging the URL removes its parts; stats, entries and explain know them', async () => {
    await h.get('/purge', { range: 'bytes=0-19' });
    await h.settle();
    expect(await parts(h, '/purge')).toHaveLength(1);
    const partial = h.cache.store.stats().partialEntries ?? 0;
    expect(partial).toBeGreaterThan(0);
    const stats = await admin(h.cache.url, `${PREFIX}/stats`);
    expect((stats.json.store as { other: Record<string, number> }).other.partialEntries).toBe(partial);
    const listed = await admin(h.cache.url, `${PREFIX}/entries?prefix=/purge`);
    expect((listed.json.items as { part: unknown }[]).map((item) => item.part)).toEqual([
      { start: 0, end: 19, length: 100 },
    ]);
    const explained = await admin(h.cache.url, `${PREFIX}/explain?url=/purge&probe=0`);
    const [variant] = explained.json.variants as { storable: { storable: boolean }; steps: { check: string }[] }[];
    expect(variant?.storable.storable).toBe(true);
    expect(variant?.steps.map((step) => step.check)).toContain('partial');
    const purge = await request(h.cache.url, '/purge', { method: 'PURGE' });
    expect(purge.status).toBe(200);
    expect(await parts(h, '/purge')).toHaveLength(0);
    expect((await h.get('/purge', { range: 'bytes=0-9' })).headers['x-cache']).toBe('MISS');
  });
});

describe('when a part is stale, or a 206 comes to a whole fetch', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness(
      {
        '/stale': rangeOrigin(
          () => BODY,
          () => '"s"',
          'max-age=10',
        ),
        // Like the conformance suite's origin: a 206 whatever the request (here a consistent one).
        '/always-206': (_req, res: ServerResponse) => {
          res.writeHead(206, {
            'cache-control': 'max-age=600',
            date: httpDate(),
            etag: '"a"',
            'content-range': 'bytes 0-4/10',
            'content-length': 5,
          });
          res.end('01234');
        },
      },
      { rangeFetchMax: 10 },
    );
  });
  afterAll(async () => {
    await h?.close();
    clock.restore();
  });

  test('a stale part is not served: the range is asked again, and its fresh 206 makes the older bytes servable', async () => {
    await h.get('/stale', { range: 'bytes=0-49' });
    await h.settle();
    expect((await h.get('/stale', { range: 'bytes=0-9' })).headers['x-cache']).toBe('HIT');
    clock.advance(11);
    const again = await h.get('/stale', { range: 'bytes=0-9' });
    expect([again.status, again.headers['x-cache']]).toEqual([206, 'MISS']);
    await h.settle();
    // The new part has the old one's strong validator: it vouches for the older bytes too (§3.4).
    const older = await h.get('/stale', { range: 'bytes=20-30' });
    expect([older.status, older.headers['x-cache']]).toEqual([206, 'HIT']);
    expect(older.body.equals(BODY.subarray(20, 31))).toBe(true);
    expect(await parts(h, '/stale')).toHaveLength(2);
  });

  test('a 206 answering a fetch without Range is stored as a part and answers ranges inside it', async () => {
    const first = await h.get('/always-206', { range: 'bytes=0-1' });
    expect([first.status, first.headers['content-range']]).toEqual([206, 'bytes 0-4/10']);
    expect(h.origin.requests.at(-1)?.headers.range).toBeUndefined();
    await h.settle();
    const inside = await h.get('/always-206', { range: 'bytes=1-3' });
    expect([inside.status, inside.headers['x-cache'], inside.body.toString()]).toEqual([206, 'HIT', '123']);
    // A GET without Range is never answered by a part.
    const full = await h.get('/always-206');
    expect(full.headers['x-cache']).toBe('MISS');
  });
});

describe('parts of a response the cache stores compressed', () => {
  let h: Harness;
  const TEXT = Buffer.from('abcdefghij'.repeat(300));

  beforeAll(async () => {
    h = await startHarness(
      {
        '/text': (req, res) => {
          const headers = { 'cache-control': 'max-age=600', etag: '"t"', 'content-type': 'text/plain' };
          const match = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
          if (!match) {
            res.writeHead(200, { ...headers, 'content-length': TEXT.length });
            return void res.end(TEXT);
          }
          const [start, end] = [Number(match[1]), Number(match[2])];
          res.writeHead(206, {
            ...headers,
            'content-range': `bytes ${start}-${end}/${TEXT.length}`,
            'content-length': end - start + 1,
          });
          res.end(TEXT.subarray(start, end + 1));
        },
      },
      { rangeFetchMax: 10 },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  test('a part is stored as it came; the whole response, stored with its compressed copies, ends the parts', async () => {
    const part = await h.get('/text', { range: 'bytes=0-99', 'accept-encoding': 'gzip' });
    expect([part.status, part.headers['content-encoding'], part.body.equals(TEXT.subarray(0, 100))]).toEqual([
      206,
      undefined,
      true,
    ]);
    await h.settle();
    expect(await parts(h, '/text')).toHaveLength(1);
    const whole = await h.get('/text', { 'accept-encoding': 'gzip' });
    expect(whole.status).toBe(200);
    await h.settle();
    await waitFor(async () => (await parts(h, '/text')).length === 0, 'the parts to go');
    const inside = await h.get('/text', { range: 'bytes=10-19' });
    expect([inside.status, inside.headers['x-cache']]).toEqual([206, 'HIT']);
    expect(inside.body.equals(TEXT.subarray(10, 20))).toBe(true);
  });
});

describe('206 responses that are relayed but never stored', () => {
  let raw: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const head = (fields: string) =>
    `HTTP/1.1 206 Partial Content\r\nCache-Control: max-age=600\r\nETag: "r"\r\n${fields}\r\n`;

  beforeAll(async () => {
    dir = await tempDir();
    raw = await startRawOrigin({
      // The conformance suite's partial-store-partial-reuse-* answer: 5 bytes said to be 4-9.
      '/mismatch': (socket) => socket.write(`${head('Content-Range: bytes 4-9/10\r\nContent-Length: 5\r\n')}01234`),
      '/unknown-length': (socket) =>
        socket.write(`${head('Content-Range: bytes 0-4/*\r\nContent-Length: 5\r\n')}01234`),
      '/multipart': (socket) => {
        const body =
          '--b\r\nContent-Range: bytes 0-0/10\r\n\r\n0\r\n--b\r\nContent-Range: bytes 9-9/10\r\n\r\n9\r\n--b--\r\n';
        socket.write(
          `${head(`Content-Type: multipart/byteranges; boundary=b\r\nContent-Length: ${body.length}\r\n`)}${body}`,
        );
      },
      '/short': (socket) => {
        // Chunked, and one byte short of its Content-Range: the store's length check refuses it.
        socket.write(`${head('Content-Range: bytes 0-4/10\r\nTransfer-Encoding: chunked\r\n')}4\r\n0123\r\n0\r\n\r\n`);
      },
    });
    cache = await startCache(raw.url, dir.dir, { rangeFetchMax: 0 });
  });
  afterAll(async () => {
    await cache?.close();
    await raw?.close();
    await dir?.cleanup();
  });

  test.each([
    ['/mismatch', 'partial-length-mismatch', 'bytes=4-9'],
    ['/unknown-length', 'partial-unknown-length', 'bytes=0-4'],
    ['/multipart', 'partial-multipart', 'bytes=0-0,9-9'],
  ])('%s: relayed as it came (detail=%s), then asked again', async (path, detail, range) => {
    const first = await request(cache.url, path, { headers: { range } });
    expect(first.status).toBe(206);
    expect(cacheStatusOf(first)).toBe(`fwd=uri-miss; fwd-status=206; detail=${detail}`);
    const again = await request(cache.url, path, { headers: { range } });
    expect(again.headers['x-cache']).toBe('MISS');
    expect(raw.count(path)).toBe(2);
  });

  test('a chunked 206 shorter than its Content-Range is not stored', async () => {
    await request(cache.url, '/short', { headers: { range: 'bytes=0-4' } }).catch(() => undefined);
    await request(cache.url, '/short', { headers: { range: 'bytes=0-1' } }).catch(() => undefined);
    expect(raw.count('/short')).toBe(2);
    expect(await cache.store.lookup(`${raw.url}/short`)).toEqual([]);
  });
});

describe('property: any sequence of Range requests serves exactly the origin bytes', () => {
  let h: Harness;
  let run = 0;

  beforeAll(async () => {
    h = await startHarness(
      {
        '*': rangeOrigin(
          () => BODY,
          () => '"p"',
        ),
      },
      { rangeFetchMax: 10 },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  const spec = fc.oneof(
    fc.tuple(fc.nat(LENGTH + 5), fc.nat(LENGTH + 5)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.nat(LENGTH + 5).map((a) => `${a}-`),
    fc.integer({ min: 1, max: LENGTH + 5 }).map((n) => `-${n}`),
  );
  const ask = fc.oneof(
    { weight: 5, arbitrary: fc.array(spec, { minLength: 1, maxLength: 3 }).map((specs) => `bytes=${specs.join(',')}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

  test('every 206, 200 and 416 agrees with the origin, parts stored and combined along the way', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ask, { minLength: 1, maxLength: 6 }), async (asks) => {
        const path = `/p${run++}`;
        for (const range of asks) {
          const reply = await h.get(path, range === undefined ? {} : { range });
          await h.settle();
          expectOriginBytes(reply.status, reply.headers, reply.body);
        }
        const full = await h.get(path);
        expect(full.body.equals(BODY)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});

/** The response is the origin's representation, or exactly the bytes its Content-Range (or parts) name. */
function expectOriginBytes(status: number, headers: Record<string, unknown>, body: Buffer): void {
  if (status === 200) return void expect(body.equals(BODY)).toBe(true);
  if (status === 416) return void expect(headers['content-range']).toBe(`bytes */${LENGTH}`);
  expect(status).toBe(206);
  const type = String(headers['content-type'] ?? '');
  if (!type.startsWith('multipart/byteranges')) {
    const [, start, end] = /^bytes (\d+)-(\d+)\/100$/.exec(String(headers['content-range'])) ?? [];
    expect(body.equals(BODY.subarray(Number(start), Number(end) + 1))).toBe(true);
    return;
  }
  const boundary = /boundary=(.+)$/.exec(type)?.[1] ?? '';
  const text = body.toString('latin1');
  const sections = text.split(`--${boundary}`).slice(1, -1);
  expect(sections.length).toBeGreaterThan(0);
  for (const section of sections) {
    const [partHead = '', ...rest] = section.split('\r\n\r\n');
    const content = Buffer.from(rest.join('\r\n\r\n').replace(/\r\n$/, ''), 'latin1');
    const [, start, end] = /Content-Range: bytes (\d+)-(\d+)\/100/.exec(partHead) ?? [];
    expect(content.equals(BODY.subarray(Number(start), Number(end) + 1))).toBe(true);
  }
}
