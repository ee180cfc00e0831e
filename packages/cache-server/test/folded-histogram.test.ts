import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { FoldedSeries } from '../src/admin/folded-histogram.js';

/**
 * admin/folded-histogram.ts: the fast path's hit durations are counted outside prom-client and
 * added at scrape. /metrics must read as if every hit had gone through `observe`: the same
 * series, in the same order, the same bucket counts and count, and the sum (added per scrape
 * instead of per hit) equal but for floating-point rounding.
 */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const NAME = 'simple_cache_request_duration_seconds';

function histogramIn(registry: Registry, collect?: () => void): Histogram<'cache_status'> {
  return new Histogram({
    name: NAME,
    help: 'Time from request to the end of the response, by X-Cache outcome.',
    labelNames: ['cache_status'],
    buckets: BUCKETS,
    registers: [registry],
    ...(collect ? { collect } : {}),
  });
}

/** Folded and plain, fed the same observations. */
function pair() {
  const plainRegistry = new Registry();
  const plain = histogramIn(plainRegistry);
  const foldedRegistry = new Registry();
  const folded = histogramIn(foldedRegistry, () => hits.flush());
  const hits = new FoldedSeries(folded, { cache_status: 'hit' }, BUCKETS);
  return {
    hits,
    observe(status: string, seconds: number) {
      plain.observe({ cache_status: status }, seconds);
      if (status === 'hit') hits.observe(seconds);
      else folded.observe({ cache_status: status }, seconds);
    },
    scrape: async () => [await foldedRegistry.metrics(), await plainRegistry.metrics()] as const,
  };
}

/** The text with every _sum value taken out, and those values. */
function split(text: string): { rest: string; sums: number[] } {
  const sums: number[] = [];
  const rest = text.replace(/^(\S+_sum\S*) (\S+)$/gm, (_line, series: string, value: string) => {
    sums.push(Number(value));
    return `${series} <sum>`;
  });
  return { rest, sums };
}

function expectSame(folded: string, plain: string): void {
  const a = split(folded);
  const b = split(plain);
  expect(a.rest).toBe(b.rest);
  expect(a.sums).toHaveLength(b.sums.length);
  a.sums.forEach((sum, i) => expect(sum).toBeCloseTo(b.sums[i] as number, 9));
}

const duration = fc.oneof(
  fc.double({ min: 0, max: 0.002, noNaN: true }),
  fc.constantFrom(0, ...BUCKETS),
  fc.double({ min: 0, max: 20, noNaN: true }),
);
const step = fc.oneof(
  fc.record({
    kind: fc.constant('observe' as const),
    status: fc.constantFrom('hit', 'miss', 'stale'),
    seconds: duration,
  }),
  fc.constant({ kind: 'scrape' as const }),
);

describe('hit durations folded into the request histogram at scrape', () => {
  test('prom-client keeps its series as the fold expects (else every hit pays observe again)', () => {
    expect(pair().hits.folds).toBe(true);
  });

  test('/metrics reads as if every observation went through observe, whatever the order and the scrapes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const { observe, scrape } = pair();
        for (const s of steps) {
          if (s.kind === 'observe') observe(s.status, s.seconds);
          else expectSame(...(await scrape()));
        }
        expectSame(...(await scrape()));
      }),
    );
  });

  test('a hit before any scrape, then a miss: the hit series comes first, as observe would order them', async () => {
    const { observe, scrape } = pair();
    observe('hit', 0.0004);
    observe('miss', 0.02);
    observe('hit', 3);
    const [folded, plain] = await scrape();
    expect(folded.indexOf('cache_status="hit"')).toBeLessThan(folded.indexOf('cache_status="miss"'));
    expect(folded).toMatch(/_bucket\{le="0.001",cache_status="hit"\} 1\n/);
    expect(folded).toMatch(/_bucket\{le="\+Inf",cache_status="hit"\} 2\n/);
    expect(folded).toMatch(/_count\{cache_status="hit"\} 2\n/);
    expectSame(folded, plain);
  });

  test('a registry reset drops the folded series with the others; later hits make it again', async () => {
    const registry = new Registry();
    const histogram = histogramIn(registry, () => hits.flush());
    const hits = new FoldedSeries(histogram, { cache_status: 'hit' }, BUCKETS);
    hits.observe(0.0001);
    expect(await registry.metrics()).toMatch(/_count\{cache_status="hit"\} 1\n/);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toMatch(/cache_status="hit"/);
    hits.observe(0.0001);
    expect(await registry.metrics()).toMatch(/_count\{cache_status="hit"\} 1\n/);
  });

  test('a value observe refuses is refused the same way', () => {
    const { hits } = pair();
    expect(() => hits.observe(Number.NaN)).toThrow(TypeError);
  });
});
