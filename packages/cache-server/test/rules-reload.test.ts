import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { admin, PREFIX } from './helpers/admin.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { chunkAt, sha1OfChunks } from './helpers/raw.js';
import { cacheStatusOf } from './helpers/rfc-harness.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { createHash } from 'node:crypto';

/**
 * A reload swaps the rules atomically: a request running keeps the rules it started with (its
 * bytes are untouched), the next one gets the new rules, and open connections stay open.
 */
const CHUNK = 64 * 1024;
const CHUNKS = 256; // 16 MiB, sent only as fast as the test lets it

let dir: Awaited<ReturnType<typeof tempDir>>;
let origin: TestOrigin;
let cache: StartedCache;
let file: string;
let releaseBody: () => void = () => {};
let bodyStarted = false;

const FIRST = [
  'rules:',
  '  - name: downloads',
  '    match: { path: /downloads/** }',
  '    ttl: 1h',
  '  - name: pages',
  '    match: { path: /pages/** }',
  '    ttl: 1h',
].join('\n');

beforeAll(async () => {
  dir = await tempDir('simple-cache-rules-reload-');
  origin = await startTestOrigin({
    '/downloads/big.bin': (_req, res) => {
      res.writeHead(200, { 'content-length': CHUNK * CHUNKS });
      // Half the body now, the rest once the test has reloaded the config.
      for (let i = 0; i < CHUNKS / 2; i++) res.write(chunkAt(i, CHUNK));
      bodyStarted = true;
      releaseBody = () => {
        for (let i = CHUNKS / 2; i < CHUNKS; i++) res.write(chunkAt(i, CHUNK));
        res.end();
      };
    },
    '/pages/a': (_req, res) => {
      res.writeHead(200, { 'content-length': 1 });
      res.end('a');
    },
  });
  file = path.join(dir.dir, 'rules.yaml');
  await writeFile(file, FIRST);
  cache = await startCache(origin.url, path.join(dir.dir, 'cache'), { configFile: file });
});
afterAll(async () => {
  await cache?.close();
  await origin?.close();
  await dir?.cleanup();
});

function reload(): Promise<Awaited<ReturnType<typeof admin>>> {
  return admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST' });
}

/** A GET on a kept-alive socket: resolves with the reply and the local port it used. */
function getOn(
  agent: http.Agent,
  pathname: string,
): Promise<{ headers: http.IncomingHttpHeaders; body: string; port: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${cache.url}${pathname}`, { agent }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ headers: res.headers, body, port: res.socket?.localPort ?? 0 }));
      })
      .on('error', reject);
  });
}

describe('reload while requests run', () => {
  test('a long download in flight completes byte-exact under the rules it started with', async () => {
    const hash = createHash('sha1');
    let bytes = 0;
    const download = new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      http
        .get(`${cache.url}/downloads/big.bin`, { agent: false }, (res) => {
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            hash.update(chunk);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          res.on('aborted', () => reject(new Error('download aborted')));
        })
        .on('error', reject);
    });
    await waitFor(() => bodyStarted && bytes > 0, 'the download to be under way');

    // The new rules bypass downloads: the running download is not affected, the next one is.
    await writeFile(file, FIRST.replace('    ttl: 1h\n  - name: pages', '    bypass: true\n  - name: pages'));
    expect((await reload()).json).toMatchObject({ reloaded: true, applied: ['rules'] });
    releaseBody();
    const done = await download;
    expect(done.status).toBe(200);
    expect(bytes).toBe(CHUNK * CHUNKS);
    expect(hash.digest('hex')).toBe(sha1OfChunks(CHUNKS, CHUNK));
    expect(cacheStatusOf(done)).toContain('detail=downloads');

    await waitFor(() => cache.proxy.inFlight.size === 0, 'the download to be stored');
    const after = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      http
        .get(`${cache.url}/downloads/big.bin`, { agent: false }, (res) => {
          res.resume();
          resolve(res.headers);
        })
        .on('error', reject);
    });
    expect(after['x-cache']).toBe('BYPASS');
    expect(cacheStatusOf({ headers: after })).toContain('detail=downloads');
  }, 30_000);

  test('an open keep-alive connection stays open across reloads; each request on it uses the rules in force', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const miss = await getOn(agent, '/pages/a');
      await waitFor(() => cache.proxy.inFlight.size === 0, 'the page to be stored');
      const hit = await getOn(agent, '/pages/a');
      expect([miss.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
      // The fast path served it: a stored, fresh, in-memory hit.
      const fastBefore = cache.fastHit?.served ?? 0;
      expect(fastBefore).toBeGreaterThan(0);

      await writeFile(file, `${FIRST}\n  - name: pages-off\n    match: { path: /pages/** }\n    bypass: true\n`);
      expect((await reload()).status).toBe(200);
      const bypassed = await getOn(agent, '/pages/a');
      expect(bypassed.headers['x-cache']).toBe('BYPASS');
      expect(cacheStatusOf(bypassed)).toContain('detail=pages-off');
      expect(bypassed.port).toBe(miss.port);

      await writeFile(file, FIRST);
      expect((await reload()).status).toBe(200);
      const again = await getOn(agent, '/pages/a');
      // The entry stored before is used again once nothing bypasses it.
      expect(again.headers['x-cache']).toBe('HIT');
      expect(again.port).toBe(miss.port);
      expect(cache.fastHit?.served).toBe(fastBefore + 1);

      // An invalid file changes nothing, for new requests either.
      await writeFile(file, `${FIRST}\n    grace: sometime\n`);
      expect((await reload()).status).toBe(400);
      expect((await getOn(agent, '/pages/a')).headers['x-cache']).toBe('HIT');
    } finally {
      agent.destroy();
    }
  });

  test('a reload that shortens a ttl applies to entries already stored (rules act when an entry is used)', async () => {
    await writeFile(file, FIRST.replace(/ttl: 1h$/, 'ttl: 0s'));
    expect((await reload()).status).toBe(200);
    const reply = await admin(cache.url, '/pages/a');
    expect(reply.headers['x-cache']).not.toBe('HIT');
  });
});
