import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ServerResponse } from 'node:http';
import type { Route } from './helpers/test-origin.js';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, startHarness, validating, type Harness } from './helpers/rfc-harness.js';

const BODY = '0123456789abcdefghij';
const LAST_MODIFIED = httpDate(Date.UTC(2025, 0, 1));

/** An origin that honours one `bytes=a-b` range itself (for requests the cache passes through). */
function rangeAware(body: string): Route {
  return (req, res) => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
    const headers = { 'cache-control': 'max-age=600', date: httpDate(), 'accept-ranges': 'bytes' };
    if (!match) {
      res.writeHead(200, { ...headers, 'content-length': body.length });
      return res.end(body);
    }
    const [start, end] = [Number(match[1]), Number(match[2])];
    const part = body.slice(start, end + 1);
    res.writeHead(206, {
      ...headers,
      'content-range': `bytes ${start}-${end}/${body.length}`,
      'content-length': part.length,
    });
    res.end(part);
  };
}

/** Splits a multipart/byteranges body into its parts' Content-Range and bytes (RFC 9110 §14.6). */
function parseMultipart(body: string, contentType: string): [string, string][] {
  const boundary = /boundary=(.+)$/.exec(contentType)?.[1] ?? '';
  return body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const [head = '', content = ''] = part.split('\r\n\r\n');
      const range = /Content-Range: (.+)/.exec(head)?.[1] ?? '';
      return [range.trim(), content.replace(/\r\n$/, '')];
    });
}

describe('ranges of stored responses (RFC 9110 §14, RFC 9111 §3.4)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    h = await startHarness({
      '/doc': respond(
        { 'cache-control': 'max-age=600', etag: '"d"', 'last-modified': LAST_MODIFIED, 'content-type': 'text/plain' },
        BODY,
      ),
      '/stale': validating({ 'cache-control': 'max-age=10', etag: '"s"' }, BODY),
    });
    await h.get('/doc');
    await h.settle();
    clock.advance(5);
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  test.each<[string, Record<string, string>, number, string, string | undefined]>([
    ['first-last', { range: 'bytes=0-1' }, 206, '01', 'bytes 0-1/20'],
    ['first- (to the end)', { range: 'bytes=15-' }, 206, 'fghij', 'bytes 15-19/20'],
    ['-suffix', { range: 'bytes=-3' }, 206, 'hij', 'bytes 17-19/20'],
    ['last-pos past the end is clamped', { range: 'bytes=18-100' }, 206, 'ij', 'bytes 18-19/20'],
    ['overlapping ranges coalesce into one', { range: 'bytes=0-4,3-6' }, 206, '0123456', 'bytes 0-6/20'],
    ['If-Range with the strong ETag: the range', { range: 'bytes=0-1', 'if-range': '"d"' }, 206, '01', 'bytes 0-1/20'],
    ['If-Range with another ETag: the whole body', { range: 'bytes=0-1', 'if-range': '"x"' }, 200, BODY, undefined],
    ['If-Range with a weak ETag never matches', { range: 'bytes=0-1', 'if-range': 'W/"d"' }, 200, BODY, undefined],
    [
      'If-Range with the Last-Modified date',
      { range: 'bytes=2-3', 'if-range': LAST_MODIFIED },
      206,
      '23',
      'bytes 2-3/20',
    ],
    ['an invalid Range is ignored', { range: 'bytes=abc' }, 200, BODY, undefined],
    ['another unit is ignored', { range: 'items=0-1' }, 200, BODY, undefined],
  ])('a stored 200 answers %s from the cache', async (_rule, headers, status, body, contentRange) => {
    const reply = await h.get('/doc', headers);
    expect(reply.status).toBe(status);
    expect(reply.body.toString()).toBe(body);
    expect(reply.headers['content-range']).toBe(contentRange);
    expect(reply.headers['content-length']).toBe(String(body.length));
    expect(reply.headers['x-cache']).toBe('HIT');
    expect(h.seen('/doc')).toBe(1);
  });

  test('several ranges: a multipart/byteranges body (RFC 9110 §14.6)', async () => {
    const reply = await h.get('/doc', { range: 'bytes=0-1, 5-6, -2' });
    expect(reply.status).toBe(206);
    const type = String(reply.headers['content-type']);
    expect(type).toMatch(/^multipart\/byteranges; boundary=/);
    expect(Number(reply.headers['content-length'])).toBe(reply.body.length);
    expect(parseMultipart(reply.body.toString(), type)).toEqual([
      ['bytes 0-1/20', '01'],
      ['bytes 5-6/20', '56'],
      ['bytes 18-19/20', 'ij'],
    ]);
    expect(reply.body.toString()).toMatch(/Content-Type: text\/plain/);
  });

  test('no satisfiable range: 416 with the complete length (RFC 9110 §15.5.17)', async () => {
    const reply = await h.get('/doc', { range: 'bytes=50-60' });
    expect(reply.status).toBe(416);
    expect(reply.headers['content-range']).toBe('bytes */20');
  });

  test('a HEAD ignores Range (only GET has range semantics)', async () => {
    const reply = await h.get('/doc', { range: 'bytes=0-1' }, 'HEAD');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-length']).toBe('20');
  });

  test('a stale entry is revalidated in full, then the range is served from it', async () => {
    await h.get('/stale');
    await h.settle();
    clock.advance(20);
    const reply = await h.get('/stale', { range: 'bytes=1-2' });
    expect([reply.status, reply.body.toString(), reply.headers['x-cache']]).toEqual([206, '12', 'REVALIDATED']);
    const seen = h.origin.requests.at(-1);
    expect([seen?.headers.range, seen?.headers['if-none-match']]).toEqual([undefined, '"s"']);
  });
});

describe('Range misses: fetch the whole object and store it, unless it is too large', () => {
  let h: Harness;
  let small: Harness;
  let never: Harness;
  let held: ServerResponse | undefined;
  const big = Buffer.alloc(4 * 1024 * 1024, 'x');

  beforeAll(async () => {
    const routes = () => ({
      '/whole': rangeAware(BODY),
      '/multi': rangeAware(BODY),
      '/big': rangeAware(BODY),
      '/streamed': ((_req, res) => {
        held = res;
        res.writeHead(200, { 'cache-control': 'max-age=600', date: httpDate(), 'content-length': big.length });
        res.write(big.subarray(0, 64 * 1024));
      }) as Route,
    });
    h = await startHarness(routes());
    small = await startHarness(routes(), { rangeFetchMax: 10 });
    never = await startHarness(routes(), { rangeFetchMax: 0 });
  });
  afterAll(async () => {
    held?.end();
    await h?.close();
    await small?.close();
    await never?.close();
  });

  test('the origin is asked for the whole object, the client gets its range, the object is stored', async () => {
    const reply = await h.get('/whole', { range: 'bytes=2-4' });
    expect([reply.status, reply.body.toString(), reply.headers['content-range']]).toEqual([206, '234', 'bytes 2-4/20']);
    expect(reply.headers['x-cache']).toBe('MISS');
    expect(h.origin.requests.at(-1)?.headers.range).toBeUndefined();
    await h.settle();
    const full = await h.get('/whole');
    expect([full.headers['x-cache'], full.body.toString()]).toEqual(['HIT', BODY]);
  });

  test('several ranges on a miss: multipart cut from the fetched body', async () => {
    const reply = await h.get('/multi', { range: 'bytes=0-0,19-19' });
    expect(reply.status).toBe(206);
    expect(parseMultipart(reply.body.toString(), String(reply.headers['content-type']))).toEqual([
      ['bytes 0-0/20', '0'],
      ['bytes 19-19/20', 'j'],
    ]);
  });

  test('the range streams: the client has its bytes before the origin has sent the rest', async () => {
    const reply = await h.get('/streamed', { range: 'bytes=100-199' });
    expect([reply.status, reply.body.length, reply.headers['content-range']]).toEqual([
      206,
      100,
      `bytes 100-199/${big.length}`,
    ]);
    held?.end(big.subarray(64 * 1024));
    await h.settle();
    expect((await h.get('/streamed')).headers['x-cache']).toBe('HIT');
  });

  test('larger than --range-fetch-max: the Range goes to the origin as it is, its 206 is stored as a part', async () => {
    const reply = await small.get('/big', { range: 'bytes=3-5' });
    expect([reply.status, reply.body.toString(), reply.headers['content-range']]).toEqual([206, '345', 'bytes 3-5/20']);
    expect(reply.headers['x-cache']).toBe('MISS');
    expect(cacheStatusOf(reply)).toBe('fwd=uri-miss; fwd-status=206; stored');
    expect(small.origin.requests.at(-1)?.headers.range).toBe('bytes=3-5');
    await small.settle();
    expect((await small.get('/big', { range: 'bytes=4-5' })).headers['x-cache']).toBe('HIT');
    // A part never answers a GET without Range (rfc-partial.test.ts).
    expect((await small.get('/big')).headers['x-cache']).toBe('MISS');
  });

  test('--range-fetch-max 0: every Range miss goes straight to the origin with its Range', async () => {
    const reply = await never.get('/big', { range: 'bytes=0-1' });
    expect([reply.status, reply.body.toString()]).toEqual([206, '01']);
    expect(never.origin.requests.map((r) => r.headers.range)).toEqual(['bytes=0-1']);
  });
});
