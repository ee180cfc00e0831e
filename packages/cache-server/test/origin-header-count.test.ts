import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { request } from './helpers/http.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';

/**
 * Node's HTTP client keeps the first 1,000 header lines of a response in `headers` and drops the
 * rest without a word. An origin whose response had more (an app that echoes request data into
 * headers, a misbehaving middleware) lost whatever came after them: a `Cache-Control: private`
 * placed last was dropped, and the cache stored and served to everyone a response its origin had
 * marked private (`max-age=600` alone was left). nginx refuses such a head (`upstream sent too
 * big header`, 502). A field the origin sent must never be lost silently: the response is
 * relayed with every field, or refused with 502 CACHE_ERR_ORIGIN_BAD_RESPONSE and not stored.
 *
 * The origin answers `/h/<lines>/<at>/…` with `lines` header lines: `Cache-Control: max-age=600`
 * first, `Content-Length` last, and `Cache-Control: private` at line `at` (1 ≤ at ≤ lines - 2).
 */
describe('an origin response with more header lines than Node keeps', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startRawOrigin({
      '*': (socket, head) => {
        const [, , lines = '3', at = '1'] = (head.split(' ')[1] ?? '/').split('/');
        // `lines` lines in all: the first and the last frame the fillers, one of which is `private`.
        const fields = ['Cache-Control: max-age=600'];
        for (let i = 1; i <= Number(lines) - 2; i++)
          fields.push(i === Number(at) ? 'Cache-Control: private' : `a:${i % 10}`);
        fields.push('Content-Length: 2');
        socket.write(`HTTP/1.1 200 OK\r\n${fields.join('\r\n')}\r\n\r\nok`);
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  /** Asks twice; says what the origin saw and what the client got. */
  async function twice(path: string) {
    const first = await request(cache.url, path);
    const second = await request(cache.url, path);
    return { first, second, asked: origin.count(path.split('?')[0] as string) };
  }

  test('1,100 lines with `private` last: 502 with its code, nothing stored', async () => {
    const { first, second, asked } = await twice('/h/1100/1098/last');
    expect(first.status).toBe(502);
    expect(first.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_BAD_RESPONSE');
    expect(second.status).toBe(502);
    expect(asked).toBe(2);
  });

  test('1,000 lines: every one is kept, so `private` is seen and nothing is stored', async () => {
    const { first, second, asked } = await twice('/h/1000/998/at-limit');
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toContain('private');
    expect(second.headers['x-cache']).not.toBe('HIT');
    expect(asked).toBe(2);
  });

  test('any number of lines, `private` anywhere: it is honoured, or the response refused; never stored', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 3, max: 1300 })
          .chain((lines) => fc.record({ lines: fc.constant(lines), at: fc.integer({ min: 1, max: lines - 2 }) })),
        async ({ lines, at }) => {
          const path = `/h/${lines}/${at}/run-${run++}`;
          const { first, asked } = await twice(path);
          if (first.status === 502) {
            expect(first.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_BAD_RESPONSE');
          } else {
            expect([path, first.status, String(first.headers['cache-control'])]).toEqual([
              path,
              200,
              'max-age=600, private',
            ]);
          }
          expect([path, asked]).toEqual([path, 2]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
