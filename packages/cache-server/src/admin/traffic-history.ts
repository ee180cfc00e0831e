/** One second of traffic. */
export interface TrafficSample {
  requests: number;
  /** Responses whose body came from the cache (HIT, UPDATING, STALE, REVALIDATED). */
  fromCache: number;
  /** Responses to requests the cache could have answered (everything but BYPASS). */
  cacheable: number;
  bytesFromCache: number;
  bytesFromOrigin: number;
}

/** Every series over the same seconds, oldest first; `end` is the last second (Unix seconds). */
export type TrafficSeries = { end: number; step: 1 } & { [K in keyof TrafficSample]: number[] };

const FIELDS = ['requests', 'fromCache', 'cacheable', 'bytesFromCache', 'bytesFromOrigin'] as const;

/**
 * Per-second counters for the last `seconds`, for the dashboard's live chart: a ring of
 * buckets rotated lazily by the clock, so nothing runs while no one asks.
 */
export class TrafficHistory {
  private readonly buckets: (TrafficSample & { second: number })[];

  constructor(
    readonly seconds = 600,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.buckets = Array.from({ length: seconds }, () => ({ second: -1, ...emptySample() }));
  }

  record(sample: Partial<TrafficSample>): void {
    const bucket = this.bucketFor(Math.floor(this.now() / 1000));
    for (const field of FIELDS) bucket[field] += sample[field] ?? 0;
  }

  /**
   * A hit's sample, without the object `record` takes (the fast path calls this per hit); `at`
   * (ms) is when it happened, which the caller knows already (a clock read less per hit).
   */
  recordHit(bytesFromCache: number, at: number = this.now()): void {
    const bucket = this.bucketFor(Math.floor(at / 1000));
    bucket.requests += 1;
    bucket.fromCache += 1;
    bucket.cacheable += 1;
    bucket.bytesFromCache += bytesFromCache;
  }

  /** The last `seconds` seconds up to now, zeros where nothing happened. */
  series(seconds = this.seconds): TrafficSeries {
    const span = Math.max(1, Math.min(Math.floor(seconds), this.seconds));
    const end = Math.floor(this.now() / 1000);
    const out = {
      end,
      step: 1 as const,
      ...Object.fromEntries(FIELDS.map((f) => [f, [] as number[]])),
    } as TrafficSeries;
    for (let second = end - span + 1; second <= end; second++) {
      const bucket = this.buckets[this.slot(second)];
      const live = bucket !== undefined && bucket.second === second;
      for (const field of FIELDS) out[field].push(live ? bucket[field] : 0);
    }
    return out;
  }

  private bucketFor(second: number): TrafficSample & { second: number } {
    const bucket = this.buckets[this.slot(second)] as TrafficSample & { second: number };
    if (bucket.second !== second) Object.assign(bucket, { second, ...emptySample() });
    return bucket;
  }

  private slot(second: number): number {
    return ((second % this.seconds) + this.seconds) % this.seconds;
  }
}

function emptySample(): TrafficSample {
  return { requests: 0, fromCache: 0, cacheable: 0, bytesFromCache: 0, bytesFromOrigin: 0 };
}
