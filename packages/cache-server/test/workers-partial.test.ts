import { describe, expect, test } from '@jest/globals';
import type { Route } from './helpers/test-origin.js';
import { waitFor } from './helpers/http.js';
import { useTwoWorkers, type WorkerConnection } from './helpers/workers.js';

/** 100 distinct bytes, so a byte out of place shows. */
const BODY = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) % 256));

/** One `bytes=first-last` spec → 206, anything else → the whole 200; a strong ETag, so parts combine. */
const rangeOrigin: Route = (req, res) => {
  const headers = { 'cache-control': 'max-age=600', etag: '"w"', 'accept-ranges': 'bytes' };
  const match = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range ?? ''));
  if (!match) {
    res.writeHead(200, { ...headers, 'content-length': BODY.length });
    return void res.end(BODY);
  }
  const [start, end] = [Number(match[1]), Math.min(Number(match[2]), BODY.length - 1)];
  res.writeHead(206, {
    ...headers,
    'content-range': `bytes ${start}-${end}/${BODY.length}`,
    'content-length': end - start + 1,
  });
  res.end(BODY.subarray(start, end + 1));
};

/** Asks with `only-if-cached` (never a fetch) until the stored answer comes: a part commits just after its last byte. */
async function untilHit(connection: WorkerConnection, path: string, range?: string) {
  const headers = { 'cache-control': 'only-if-cached', ...(range === undefined ? {} : { range }) };
  let reply = await connection.get(path, headers);
  await waitFor(
    async () => {
      reply = await connection.get(path, headers);
      return reply.status !== 504;
    },
    `${path} ${range ?? ''} from storage`,
  );
  return reply;
}

/**
 * Parts (stored 206s, RFC 9111 §3.3) are entries of the one store the primary owns: what one
 * worker stored answers ranges in the other, and parts stored by both combine (§3.4).
 */
describe('--workers 2: stored parts are one cache too', () => {
  const workers = useTwoWorkers({ '/video': rangeOrigin }, () => ['--range-fetch-max', '10']);

  test('a part stored by one worker answers the other; parts from both become the complete response', async () => {
    const first = await workers.one.get('/video', { range: 'bytes=0-49' });
    expect([first.status, first.headers['x-cache']]).toEqual([206, 'MISS']);
    const inside = await untilHit(workers.two, '/video', 'bytes=10-19');
    expect([inside.status, inside.headers['x-cache'], inside.headers['content-range']]).toEqual([
      206,
      'HIT',
      'bytes 10-19/100',
    ]);
    expect(inside.body.equals(BODY.subarray(10, 20))).toBe(true);

    // The other worker stores the rest: the parts add up, and the complete 200 answers both.
    const rest = await workers.two.get('/video', { range: 'bytes=50-99' });
    expect([rest.status, rest.headers['x-cache']]).toEqual([206, 'MISS']);
    const whole = await untilHit(workers.one, '/video');
    expect([whole.status, whole.headers['x-cache'], whole.headers['content-length']]).toEqual([200, 'HIT', '100']);
    expect(whole.body.equals(BODY)).toBe(true);
    const across = await workers.two.get('/video', { range: 'bytes=45-55' });
    expect([across.status, across.headers['x-cache']]).toEqual([206, 'HIT']);
    expect(across.body.equals(BODY.subarray(45, 56))).toBe(true);
    // The whole fetches that found 100 bytes too large for --range-fetch-max, then one Range each.
    expect(workers.origin.requests.map((r) => r.headers.range ?? 'whole')).toEqual([
      'whole',
      'bytes=0-49',
      'bytes=50-99',
    ]);
  });
});
