import { describe, expect, test } from '@jest/globals';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { request, waitFor } from './helpers/http.js';
import { useOriginAndCaches } from './helpers/cache.js';
import { fixed } from './helpers/test-origin.js';

/** Over the memory tier's largest object and over several of the blocks a hit is sent in. */
const SIZE = 3 * 1024 * 1024 + 12_345;
const BODY = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) BODY[i] = (i * 2654435761) >>> 24;

/** Descriptors this process has open (Linux): a hit that leaves must not leave its file open. */
function openFiles(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('a hit on a body stored on disk is sent from the file', () => {
  const env = useOriginAndCaches({
    '/big': fixed(BODY, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }),
  });

  async function storedCache() {
    const cache = await env.start({ memorySize: 0 });
    expect((await request(cache.url, '/big')).headers['x-cache']).toBe('MISS');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'commit');
    return cache;
  }

  test('whole, and ranges across block boundaries, byte for byte', async () => {
    const cache = await storedCache();
    const whole = await request(cache.url, '/big');
    expect(whole.headers['x-cache']).toBe('HIT');
    expect(whole.headers['content-length']).toBe(String(SIZE));
    expect(whole.body.equals(BODY)).toBe(true);

    const from = 512 * 1024 - 7;
    const to = 2 * 1024 * 1024 + 100;
    const single = await request(cache.url, '/big', { headers: { range: `bytes=${from}-${to}` } });
    expect(single.status).toBe(206);
    expect(single.body.equals(BODY.subarray(from, to + 1))).toBe(true);

    const tail = await request(cache.url, '/big', { headers: { range: 'bytes=-1000' } });
    expect(tail.body.equals(BODY.subarray(SIZE - 1000))).toBe(true);

    const multi = await request(cache.url, '/big', { headers: { range: 'bytes=0-9,3000000-3000009' } });
    expect(multi.status).toBe(206);
    const text = multi.body.toString('latin1');
    expect(text).toContain(BODY.subarray(0, 10).toString('latin1'));
    expect(text).toContain(BODY.subarray(3_000_000, 3_000_010).toString('latin1'));
    expect(env.origin.count('/big')).toBe(1);
  });

  test('a client that reads slowly gets every byte', async () => {
    const cache = await storedCache();
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${cache.url}/big`, { agent: false }, (res) => {
          const chunks: Buffer[] = [];
          // Paused until the server's writes back up: the sender must wait for the socket.
          res.pause();
          setImmediate(() => res.resume());
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            res.pause();
            setImmediate(() => res.resume());
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(body.equals(BODY)).toBe(true);
  });

  test('a client that leaves mid-body: the file is closed and the next hit is whole', async () => {
    const cache = await storedCache();
    const before = openFiles();
    const port = Number(new URL(cache.url).port);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n'));
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // Gone after the first block, with the rest of the body still to send.
        if (received > 64 * 1024) socket.destroy();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    await waitFor(() => openFiles() <= before, 'the body file to be closed');
    const again = await request(cache.url, '/big');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(again.body.equals(BODY)).toBe(true);
  });
});
