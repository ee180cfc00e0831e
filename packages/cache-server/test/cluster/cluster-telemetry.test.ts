import { describe, expect, test } from '@jest/globals';
import { sumSeries, sumTotals } from '../../src/cluster/cluster-telemetry.js';
import type { TrafficSeries } from '../../src/admin/traffic-history.js';
import type { TrafficTotals } from '../../src/admin/telemetry.js';

function series(end: number, requests: number[]): TrafficSeries {
  const zeros = requests.map(() => 0);
  return {
    end,
    step: 1,
    requests,
    fromCache: requests,
    cacheable: requests,
    bytesFromCache: zeros,
    bytesFromOrigin: zeros,
  };
}

describe('summing the workers’ figures', () => {
  test('per-second series are added second by second, aligned on each one’s own end', () => {
    const now = Math.floor(Date.now() / 1000);
    // One worker answered a moment later, in the next second: its series ends one second later.
    const summed = sumSeries([series(now - 1, [1, 2, 3]), series(now, [10, 20, 30])], 3);
    expect(summed.end).toBe(now);
    expect(summed.requests).toEqual([2 + 10, 3 + 20, 30]);
  });

  test('totals: counts added, records of counts added key by key', () => {
    const a = { requests: 3, byCacheStatus: { HIT: 2, MISS: 1 }, errors: {} } as unknown as TrafficTotals;
    const b = {
      requests: 2,
      byCacheStatus: { HIT: 1, EXPIRED: 1 },
      errors: { CACHE_ERR_X: 1 },
    } as unknown as TrafficTotals;
    expect(sumTotals([a, b])).toEqual({
      requests: 5,
      byCacheStatus: { HIT: 3, MISS: 1, EXPIRED: 1 },
      errors: { CACHE_ERR_X: 1 },
    });
  });
});
