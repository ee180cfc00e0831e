import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { EntryMeta } from '@simple-cache/common';
import { request, waitFor } from './helpers/http.js';
import { chunkAt, readRawBody } from './helpers/raw.js';
import { startHarness, type Harness } from './helpers/rfc-harness.js';

const CHUNK = 256 * 1024;
/** Far more than loopback socket buffers hold, so a client that does not read really falls behind. */
const BODY = Buffer.concat(Array.from({ length: 64 }, (_, i) => chunkAt(i, CHUNK)));
const sha1 = (bytes: Buffer) => createHash('sha1').update(bytes).digest('hex');

/**
 * A client too slow for the origin is detached from the live fetch and continues from the stored
 * entry (collapse/fan-out.ts). When what it is sent is a 206 that completes its representation,
 * the part it would continue from is deleted as the parts become one complete entry (RFC 9111
 * §3.4): it continues from that entry instead.
 */
describe('a slow client of the 206 that completes its parts', () => {
  let h: Harness;
  let socket: net.Socket | undefined;

  beforeAll(async () => {
    h = await startHarness(
      {
        '/big': (req, res) => {
          const match = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
          const headers = { 'cache-control': 'max-age=600', etag: '"big"', 'accept-ranges': 'bytes' };
          if (!match) {
            res.writeHead(200, { ...headers, 'content-length': BODY.length });
            return void res.end(BODY);
          }
          const start = Number(match[1]);
          const end = match[2] === '' ? BODY.length - 1 : Number(match[2]);
          res.writeHead(206, {
            ...headers,
            'content-range': `bytes ${start}-${end}/${BODY.length}`,
            'content-length': end - start + 1,
          });
          res.end(BODY.subarray(start, end + 1));
        },
      },
      { rangeFetchMax: 1024 },
    );
  });
  afterAll(async () => {
    socket?.destroy();
    await h?.close();
  });

  test('continues from the complete entry, byte for byte', async () => {
    const first = await h.get('/big', { range: 'bytes=0-1023' });
    expect([first.status, first.body.length]).toEqual([206, 1024]);
    await h.settle();
    const seen = h.seen('/big');

    const url = new URL(h.cache.url);
    const stalled = await new Promise<net.Socket>((resolve, reject) => {
      const connected = net.connect(Number(url.port), url.hostname, () => {
        connected.write('GET /big HTTP/1.1\r\nHost: x\r\nRange: bytes=1024-\r\n\r\n');
        connected.pause();
        resolve(connected);
      });
      connected.once('error', reject);
    });
    socket = stalled;
    const key = `${h.origin.url}/big`;
    // The 206 went into the store while the client read nothing, and completed the parts.
    await waitFor(async () => {
      const stored = await h.cache.store.lookup(key);
      return stored.length === 1 && stored[0]?.part === undefined;
    }, 'the parts to become one complete entry');
    expect(h.seen('/big')).toBe(seen + 1);
    expect(h.origin.requests.at(-1)?.headers.range).toBe('bytes=1024-');

    const rest = await readRawBody(stalled);
    expect(rest).toEqual({ sha1: sha1(BODY.subarray(1024)), bytes: BODY.length - 1024, complete: true });
    const [complete] = (await h.cache.store.lookup(key)) as EntryMeta[];
    expect(complete?.size).toBe(BODY.length);
  }, 30_000);
});

/**
 * A fetch sending one client's Range on answers that Range alone: nobody joins it, and clients
 * asking for the whole object meanwhile share one whole fetch instead of each asking alone.
 */
describe('clients of the whole object while a Range is being fetched', () => {
  let h: Harness;
  const held: (() => void)[] = [];

  beforeAll(async () => {
    h = await startHarness(
      {
        '/video': held206,
        '/purged': held206,
      },
      // Every Range miss goes to the origin with its Range.
      { rangeFetchMax: 0 },
    );
    function held206(req: IncomingMessage, res: ServerResponse): void {
      const range = req.headers.range;
      // Every answer waits for the test: the fetches overlap for as long as it needs.
      held.push(() => {
        const headers = { 'cache-control': 'max-age=600', etag: '"v"' };
        if (range === 'bytes=0-9') {
          res.writeHead(206, { ...headers, 'content-range': 'bytes 0-9/100', 'content-length': 10 });
          return void res.end('0123456789');
        }
        res.writeHead(200, { ...headers, 'content-length': 100 });
        res.end('x'.repeat(100));
      });
    }
  });
  afterAll(async () => {
    for (const release of held) release();
    await h?.close();
  });

  test('share one whole fetch, and the Range client gets its 206', async () => {
    const ranged = request(h.cache.url, '/video', { headers: { range: 'bytes=0-9' } });
    await waitFor(() => h.seen('/video') === 1, 'the Range fetch');
    const wholes = [request(h.cache.url, '/video'), request(h.cache.url, '/video'), request(h.cache.url, '/video')];
    // Were the whole clients queued behind the Range fetch, this would never happen while it is held.
    await waitFor(() => h.seen('/video') === 2, 'the whole fetch to start beside the Range fetch');
    expect(h.origin.requests.map((r) => r.headers.range)).toEqual(['bytes=0-9', undefined]);
    for (const release of held.splice(0)) release();
    const [part, ...replies] = await Promise.all([ranged, ...wholes]);
    expect([part?.status, part?.body.toString()]).toEqual([206, '0123456789']);
    for (const reply of replies) expect([reply.status, reply.body.toString()]).toEqual([200, 'x'.repeat(100)]);
    expect(h.seen('/video')).toBe(2);
  });

  test('a purge abandons the Range fetch too, though a whole fetch holds the key: its part is not stored', async () => {
    // How each part's write ends, seen on the real store.
    const parts: string[] = [];
    const { store } = h.cache;
    const begin = store.beginWrite.bind(store);
    store.beginWrite = (entry) => {
      const writer = begin(entry);
      if (entry.part === undefined) return writer;
      return {
        body: writer.body,
        commit: () => writer.commit().finally(() => parts.push('commit')),
        abort: (reason) => {
          parts.push('abort');
          writer.abort(reason);
        },
      };
    };
    const ranged = request(h.cache.url, '/purged', { headers: { range: 'bytes=0-9' } });
    await waitFor(() => h.seen('/purged') === 1, 'the Range fetch');
    const whole = request(h.cache.url, '/purged');
    await waitFor(() => h.seen('/purged') === 2, 'the whole fetch');
    const purge = await request(h.cache.url, '/purged', { method: 'PURGE' });
    expect(purge.status).toBe(200);
    for (const release of held.splice(0)) release();
    expect((await ranged).status).toBe(206);
    expect((await whole).status).toBe(200);
    // What both fetches bring predates the purge (issue 12.3): neither is committed.
    await waitFor(() => parts.length === 1, 'the part write to end');
    expect(parts).toEqual(['abort']);
    await h.settle();
    expect(await h.cache.store.lookup(`${h.origin.url}/purged`)).toEqual([]);
  });
});
