import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { EntryMeta } from '@simple-cache/common';
import { waitFor } from './helpers/http.js';
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
