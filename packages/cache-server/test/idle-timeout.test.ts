import { afterAll, describe, expect, test } from '@jest/globals';
import net from 'node:net';
import { request, waitFor } from './helpers/http.js';
import { connectionCount, pumpChunks, readRawBody, stalledReader } from './helpers/raw.js';
import type { CacheServerConfig } from '@simple-cache/common';
import { useOriginAndCaches } from './helpers/cache.js';

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
/** Far more than loopback socket buffers hold, so a reader that never reads really stalls. */
const BIG = 24 * MiB;

/**
 * `--idle-timeout` over HTTP/1.1 is armed on a connection only when a response is not handed
 * whole to the kernel (limits/idle-timeout.ts): these are the cases a timer on every connection
 * used to cover, and must still.
 */
describe('--idle-timeout without a timer on every connection', () => {
  const sockets: net.Socket[] = [];
  const env = useOriginAndCaches({
    '/big': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': BIG });
      pumpChunks(res, BIG / CHUNK, CHUNK);
    },
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
  });
  const cacheWith = (extra: Partial<CacheServerConfig>) => env.start(extra);

  /** Connects and sends nothing: resolves with what the cache wrote before it closed the connection. */
  function silentConnection(base: string): Promise<string> {
    const url = new URL(base);
    return new Promise((resolve) => {
      let text = '';
      const socket = net.connect(Number(url.port), url.hostname);
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve(text));
    });
  }

  test('a fast hit the client never reads is disconnected after --idle-timeout', async () => {
    // The body is held in memory, so its hits are answered before the router (proxy/fast-hit.ts).
    const cache = await cacheWith({ idleTimeout: 1_000, memoryObjectSize: 2 * BIG, memorySize: 4 * BIG });
    const first = await request(cache.url, '/big');
    expect(first.body.length).toBe(BIG);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const served = cache.fastHit?.served ?? 0;

    const slow = await stalledReader(cache.url, '/big');
    sockets.push(slow);
    await waitFor(() => (cache.fastHit?.served ?? 0) === served + 1, 'the fast path to answer');
    // Without the timer it would hold its connection (and 24 MiB of response) for good.
    await waitFor(async () => (await connectionCount(cache.app.server)) === 0, 'the idle connection to close');
    const rest = await readRawBody(slow);
    expect(rest.complete).toBe(false);
    expect(env.origin.count('/big')).toBe(1);
  }, 30_000);

  test('shorter than --headers-timeout: a connection that never sends a byte is closed at the idle timeout, unanswered', async () => {
    const cache = await cacheWith({ idleTimeout: 300, headersTimeout: 30_000 });
    // The headers timeout would answer 408 (after 30 s); the idle timeout closes without a word.
    expect(await silentConnection(cache.url)).toBe('');
  });

  test('longer than --headers-timeout: a connection that never sends a byte gets 408 at the headers timeout', async () => {
    const cache = await cacheWith({ idleTimeout: 60_000, headersTimeout: 300 });
    expect((await silentConnection(cache.url)).split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
  });
});
