import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import { currentAge, freshnessLifetime } from '../../src/policy/freshness.js';
import { markStale } from '../../src/policy/soft-purge.js';
import { decideUse, mayServeStaleOnError } from '../../src/policy/use.js';
import { at, entry, httpDate, options, request as policyRequest, T0 } from './fixtures.js';

describe('markStale: a soft purge makes the entry stale by exactly 0 s, via Age (RFC 9111 §4.2.3)', () => {
  /** [rule, response headers, entry overrides, seconds since received, what decideUse says next]. */
  test.each<[string, HeaderMap, Partial<ReturnType<typeof entry>>, number, string]>([
    ['max-age, just received', { 'cache-control': 'max-age=600' }, {}, 0, 'stale'],
    ['max-age, half way', { 'cache-control': 'max-age=600' }, {}, 300, 'stale'],
    ['an Age from upstream', { 'cache-control': 'max-age=600', age: '100' }, {}, 10, 'stale'],
    ['a slow response (response delay)', { 'cache-control': 'max-age=600' }, { requestTime: T0 - 5000 }, 10, 'stale'],
    ['apparent age from an old Date', { 'cache-control': 'max-age=600', date: httpDate(-200) }, {}, 1, 'stale'],
    ['Expires', { expires: httpDate(3600) }, {}, 60, 'stale'],
    ['heuristic (Last-Modified)', { 'last-modified': httpDate(-100_000) }, {}, 30, 'stale'],
    ['s-maxage: stale and never served stale', { 'cache-control': 's-maxage=60' }, {}, 0, 'stale-forbidden'],
    [
      'stale-while-revalidate still applies from now',
      { 'cache-control': 'max-age=600, stale-while-revalidate=30' },
      {},
      0,
      'stale-while-revalidate',
    ],
  ])('%s', (_rule, headers, overrides, seconds, nextReason) => {
    const stored = entry(headers, overrides);
    const now = at(seconds);
    const opts = options();
    expect(decideUse(policyRequest(), stored, now, opts).action).toBe('fresh');
    const stale = markStale(stored, now, opts);
    expect(stale).toBeDefined();
    expect(currentAge(stale!, now)).toBe(freshnessLifetime(stale!, opts).lifetime);
    expect(decideUse(policyRequest(), stale!, now, opts).reason).toBe(nextReason);
    // Nothing but the Age field changed.
    expect({ ...stale!, headers: { ...stale!.headers, age: undefined } }).toEqual({
      ...stored,
      headers: { ...stored.headers, age: undefined },
    });
  });

  test('stale-if-error keeps covering a soft-purged entry (RFC 5861 §4)', () => {
    const stored = entry({ 'cache-control': 'max-age=600, stale-if-error=60' });
    const stale = markStale(stored, at(10), options())!;
    expect(mayServeStaleOnError(policyRequest(), stale, at(10), options(), 'error-status')).toBe(true);
    expect(mayServeStaleOnError(policyRequest(), stale, at(71), options(), 'error-status')).toBe(false);
  });

  test('an entry already stale is left alone', () => {
    expect(markStale(entry({ 'cache-control': 'max-age=60' }), at(61), options())).toBeUndefined();
    expect(markStale(entry({ 'cache-control': 'no-store' }), at(0), options())).toBeUndefined();
  });
});
