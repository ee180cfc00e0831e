import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * A response whose body nobody wants is dropped, and its origin connection with it. A HEAD on a
 * miss is fetched as a GET (so that the body can be stored); when the answer is not stored (no-store,
 * larger than --max-object-size) nothing reads that body, and a Range miss whose body is larger
 * than --range-fetch-max drops the whole fetch to pass the Range on. Before, the body was dropped
 * but the origin's response was not: its connection stayed open, unread, for good (the origin
 * blocked on a full socket buffer, the cache holding a descriptor), one per such request: a few
 * thousand HEADs exhausted either side's descriptors.
 *
 * The origin answers every path with a 64 MiB body (more than the sockets between can buffer),
 * written with back-pressure, and records when each response's connection went away.
 */
const SIZE = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 97);

describe('a body nobody reads is dropped with its origin connection', () => {
  const closed = new Map<string, boolean>();
  const env = useOriginAndCache(
    {
      '*': (req, res: http.ServerResponse) => {
        const path = req.url ?? '/';
        closed.set(path, false);
        res.once('close', () => closed.set(path, true));
        res.writeHead(200, {
          'content-length': SIZE,
          'content-type': 'application/octet-stream',
          'cache-control': path.includes('no-store') ? 'no-store' : 'max-age=600',
          'accept-ranges': 'bytes',
        });
        let sent = 0;
        const pump = () => {
          while (sent < SIZE) {
            sent += CHUNK.length;
            if (!res.write(CHUNK)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      },
    },
    { maxObjectSize: 8 * 1024 * 1024, rangeFetchMax: 8 * 1024 * 1024 },
  );

  test.each([
    ['HEAD on a miss the origin says no-store', '/no-store/head', 'HEAD', {}],
    ['HEAD on a miss larger than --max-object-size', '/large/head', 'HEAD', {}],
    ['a Range miss larger than --range-fetch-max', '/large/range', 'GET', { range: 'bytes=0-9' }],
  ])('%s: the origin connection is closed', async (_label, path, method, headers) => {
    const reply = await request(env.cache.url, path, { method, headers });
    expect(reply.status).toBe(method === 'HEAD' ? 200 : 206);
    await waitFor(() => closed.get(path) === true, `the origin's response for ${path} to be closed`);
  });

  test('fifty HEADs: no origin connection is left behind', async () => {
    const paths = Array.from({ length: 50 }, (_, i) => `/no-store/many/${i}`);
    for (const path of paths) expect((await request(env.cache.url, path, { method: 'HEAD' })).status).toBe(200);
    await waitFor(() => paths.every((path) => closed.get(path) === true), 'every origin response to be closed');
  });
});
