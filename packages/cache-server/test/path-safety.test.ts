import { describe, expect, test } from '@jest/globals';
import net from 'node:net';
import path from 'node:path';
import { listFiles, useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/** Sends bytes exactly as written (no client-side normalisation) and returns the status line. */
function rawStatus(base: string, target: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

describe('request paths can never reach outside the cache dir or another resource’s entry', () => {
  const env = useOriginAndCache({
    '*': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`origin saw ${req.url}`);
    },
  });

  test.each([
    ['/../../etc/passwd', '/etc/passwd'],
    ['/a/%2e%2e/%2e%2e/etc/passwd', '/etc/passwd'],
    ['/a/.%2E/b', '/b'],
    ['/a/b/../c', '/a/c'],
  ])('%s is normalised to %s before it is keyed or forwarded', async (target, normalised) => {
    const reply = await request(env.cache.url, target);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe(`origin saw ${normalised}`);
  });

  test('an encoded slash is a different resource from a real one', async () => {
    const encoded = await request(env.cache.url, '/x%2fy');
    const plain = await request(env.cache.url, '/x/y');
    expect(encoded.body.toString()).toBe('origin saw /x%2Fy');
    expect(plain.body.toString()).toBe('origin saw /x/y');
  });

  test('a bare "?" is the same resource as none: what the origin is asked for, one entry, one purge (F31)', async () => {
    const first = await request(env.cache.url, '/empty-query?');
    expect(first.body.toString()).toBe('origin saw /empty-query');
    await waitFor(async () => (await request(env.cache.url, '/empty-query')).headers['x-cache'] === 'HIT', 'a hit');
    expect(env.origin.count('/empty-query')).toBe(1);
    expect((await request(env.cache.url, '/empty-query?', { method: 'PURGE' })).status).toBe(200);
    expect((await request(env.cache.url, '/empty-query')).headers['x-cache']).toBe('MISS');
    // A query that is not empty stays a resource of its own, as the origin sees it.
    expect((await request(env.cache.url, '/empty-query??')).body.toString()).toBe('origin saw /empty-query??');
  });

  test.each(['*', 'evil.example:80', 'http://user@evil.example/x', 'ftp://evil.example/x'])(
    'request target %s is refused with 400',
    async (target) => {
      expect(await rawStatus(env.cache.url, target)).toBe(400);
    },
  );

  test('every file the cache wrote is inside its directory, named by hashes', async () => {
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'commits');
    const files = await listFiles(env.cache.config.cacheDir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(path.resolve(file).startsWith(path.resolve(env.cache.config.cacheDir) + path.sep)).toBe(true);
      expect(path.basename(file)).toMatch(/^[0-9a-f]{32}$|^[0-9a-f]{64}\.[0-9a-f]{64}\.json$/);
    }
  });
});
