import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { httpDate, useFakeClock } from './helpers/clock.js';
import { cacheStatusOf, respond, startHarness, type Harness } from './helpers/rfc-harness.js';

/** The status codes RFC 9110 §15.1 defines as heuristically cacheable. */
const HEURISTIC = [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501];
/** Final statuses that are not: stored only with explicit freshness (RFC 9111 §3). */
const NOT_HEURISTIC = [201, 202, 302, 303, 307, 400, 403, 500, 502, 503, 504, 599];

describe('status codes (RFC 9111 §3, §4.2.2; RFC 9110 §15.1)', () => {
  let h: Harness;
  let clock: ReturnType<typeof useFakeClock>;

  beforeAll(async () => {
    clock = useFakeClock();
    const routes = Object.fromEntries(
      [...HEURISTIC, ...NOT_HEURISTIC].flatMap((status) => [
        [`/lm/${status}`, respond((now) => ({ 'last-modified': httpDate(now - 100_000_000) }), `lm ${status}`, status)],
        [`/explicit/${status}`, respond({ 'cache-control': 'max-age=600' }, `explicit ${status}`, status)],
      ]),
    );
    routes['/partial'] = respond({ 'cache-control': 'max-age=600', 'content-range': 'bytes 0-3/10' }, '0123', 206);
    h = await startHarness(routes);
  });
  afterAll(async () => {
    clock?.restore();
    await h?.close();
  });

  async function twice(path: string) {
    const first = await h.get(path);
    await h.settle();
    clock.advance(10);
    return { first, second: await h.get(path) };
  }

  test.each(HEURISTIC)('%d with only Last-Modified is heuristically fresh: reused (§4.2.2)', async (status) => {
    const { second } = await twice(`/lm/${status}`);
    expect(second.status).toBe(status);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body.toString()).toBe(status === 204 ? '' : `lm ${status}`);
    expect(h.seen(`/lm/${status}`)).toBe(1);
  });

  test.each(NOT_HEURISTIC)('%d with only Last-Modified is not stored', async (status) => {
    const { first, second } = await twice(`/lm/${status}`);
    expect(first.status).toBe(status);
    expect(cacheStatusOf(first)).toMatch(/detail=not-cacheable-status/);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(h.seen(`/lm/${status}`)).toBe(2);
  });

  test.each([...HEURISTIC, ...NOT_HEURISTIC])('%d with explicit freshness is reused (§3)', async (status) => {
    const { second } = await twice(`/explicit/${status}`);
    expect(second.status).toBe(status);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(h.seen(`/explicit/${status}`)).toBe(1);
  });

  test('a 206 from the origin is relayed as it came, stored as a part, and never answers a GET without Range (§3.3)', async () => {
    const { first, second } = await twice('/partial');
    expect(first.status).toBe(206);
    expect(first.headers['content-range']).toBe('bytes 0-3/10');
    expect(first.body.toString()).toBe('0123');
    expect(cacheStatusOf(first)).toBe('fwd=uri-miss; fwd-status=206; stored');
    expect(second.headers['x-cache']).toBe('MISS');
    expect(h.seen('/partial')).toBe(2);
    // A Range inside the part is answered from it (rfc-partial.test.ts has the rest).
    const inside = await h.get('/partial', { range: 'bytes=1-2' });
    expect([inside.status, inside.headers['x-cache'], inside.body.toString()]).toEqual([206, 'HIT', '12']);
  });
});
