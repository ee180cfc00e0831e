import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { cacheStatusOf, respond, startHarness, type Harness } from './helpers/rfc-harness.js';

describe('responses to authorised requests (RFC 9111 §3.5)', () => {
  let h: Harness;
  const CASES: [string, string, boolean][] = [
    ['max-age alone', 'max-age=600', false],
    ['public', 'max-age=600, public', true],
    ['s-maxage', 's-maxage=600', true],
    ['must-revalidate', 'max-age=600, must-revalidate', true],
  ];

  beforeAll(async () => {
    h = await startHarness(
      Object.fromEntries(CASES.map(([, cacheControl], i) => [`/a${i}`, respond({ 'cache-control': cacheControl })])),
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  test.each(CASES.map((row, i) => [...row, i] as const))(
    'Authorization and %s: stored = %s',
    async (_rule, _cacheControl, storable, i) => {
      const path = `/a${i}`;
      const first = await h.get(path, { authorization: 'Bearer secret' });
      expect(h.origin.requests.at(-1)?.headers.authorization).toBe('Bearer secret');
      await h.settle();
      const second = await h.get(path, { authorization: 'Bearer secret' });
      if (storable) {
        expect(cacheStatusOf(first)).toMatch(/stored/);
        expect(second.headers['x-cache']).toBe('HIT');
        expect(h.seen(path)).toBe(1);
      } else {
        expect(cacheStatusOf(first)).toMatch(/detail=authorization/);
        expect(second.headers['x-cache']).toBe('MISS');
        expect(h.seen(path)).toBe(2);
      }
    },
  );
});
