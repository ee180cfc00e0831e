import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { waitFor } from './helpers/http.js';
import { chunkAt, connectionCount, sha1OfChunks, streamGet } from './helpers/raw.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';

const CHUNK = 64 * 1024;
const CHUNKS = 64; // 4 MiB
const SIZE = CHUNK * CHUNKS;

/** A GET that reads until it has `bytes` body bytes, then drops the connection. */
function getThenLeave(base: string, path: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { agent: false }, (res) => {
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= bytes) {
          req.destroy();
          resolve(seen);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

describe('a client that leaves in the middle of a collapsed miss', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const sha1 = sha1OfChunks(CHUNKS, CHUNK);
  /** Per path: send the first quarter of the body, then the rest. The head goes out at once. */
  const pending = new Map<string, { start(): void; finish(): void }>();

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '*': (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': SIZE });
        pending.set(req.url ?? '', {
          start: () => {
            for (let i = 0; i < CHUNKS / 4; i++) res.write(chunkAt(i, CHUNK));
          },
          finish: () => {
            for (let i = CHUNKS / 4; i < CHUNKS; i++) res.write(chunkAt(i, CHUNK));
            res.end();
          },
        });
      },
    });
    cache = await startCache(origin.url, dir.dir);
  });
  afterAll(async () => {
    for (const body of pending.values()) body.finish();
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  const stored = (path: string) =>
    waitFor(async () => (await cache.store.lookup(`${origin.url}${path}`)).length === 1, `${path} to be stored`);

  test.each([
    ['the client whose request started the fetch', '/leader-leaves', 0],
    ['a client collapsed onto the fetch', '/follower-leaves', 1],
  ])('%s leaves: the others get the whole body, the entry is stored, one origin fetch', async (_who, path, leaver) => {
    const clients: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      clients.push(i === leaver ? getThenLeave(cache.url, path, CHUNK) : streamGet(cache.url, path));
      // In order, so that client 0 is the one whose request starts the fetch.
      if (i === 0) await waitFor(() => origin.count(path) === 1, 'the origin fetch');
    }
    await waitFor(async () => (await connectionCount(cache.app.server)) === 4, 'four clients');
    pending.get(path)?.start();
    await clients[leaver];
    await waitFor(async () => (await connectionCount(cache.app.server)) === 3, 'the client to be gone');
    pending.get(path)?.finish();
    const results = (await Promise.all(clients.filter((_c, i) => i !== leaver))) as Awaited<
      ReturnType<typeof streamGet>
    >[];
    for (const result of results) expect({ bytes: result.bytes, sha1: result.sha1 }).toEqual({ bytes: SIZE, sha1 });
    await stored(path);
    expect(origin.count(path)).toBe(1);
  });

  test('every client leaves: the fetch still completes into the store', async () => {
    const path = '/everybody-leaves';
    const leaving = getThenLeave(cache.url, path, CHUNK);
    await waitFor(() => pending.has(path), 'the origin fetch');
    pending.get(path)?.start();
    await leaving;
    await waitFor(async () => (await connectionCount(cache.app.server)) === 0, 'the client to be gone');
    pending.get(path)?.finish();
    await stored(path);
    const hit = await streamGet(cache.url, path);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.sha1).toBe(sha1);
    expect(origin.count(path)).toBe(1);
  });
});
