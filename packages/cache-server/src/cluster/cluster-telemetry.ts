import { AggregatorRegistry, collectDefaultMetrics, Registry } from 'prom-client';
import type { AdminTelemetry } from '../admin/admin-deps.js';
import { registerStoreMetrics, type TrafficTotals } from '../admin/telemetry.js';
import type { TrafficSeries } from '../admin/traffic-history.js';
import type { MemoryTierStats } from '../store/memory-tier.js';
import type { Store } from '../store/store.js';
import type { WorkerReport } from './protocol.js';

/**
 * Metrics the primary gives itself (it owns the store, and the config reloads it drives); the
 * workers' own copies are left out of the sum.
 */
const PRIMARY_METRICS = /^simple_cache_(store|config)_/;

/** One worker as the primary knows it (for the worker-labelled series). */
export interface WorkerInfo {
  slot: number;
  pid: number;
  restarts: number;
  /** When the primary forked it, Unix ms. */
  forkedAt: number;
  /** False while a new worker starts. */
  listening: boolean;
}

/**
 * The admin endpoints' figures for the whole cache, in the primary: each worker's report
 * (totals, per-second history, fetches in flight, memory tier, prom-client metrics), gathered
 * by `refresh()` before an admin request is answered, summed; the store's figures from the
 * store itself. `/metrics` is the workers' registries summed by prom-client's
 * `AggregatorRegistry.aggregate` (each metric by its own aggregator: counters and histograms
 * summed, event-loop lag averaged, …), plus the store's gauges and `worker`-labelled series.
 */
export class ClusterTelemetry implements AdminTelemetry {
  readonly startedAt = Date.now();
  readonly history = {
    series: (seconds?: number) =>
      sumSeries(
        this.reports.map((r) => r.history),
        seconds,
      ),
  };
  private reports: WorkerReport[] = [];
  /** The primary's own metrics: the store's, its process's, config reloads. */
  readonly registry = new Registry();

  constructor(
    store: Store,
    private readonly gather: () => Promise<WorkerReport[]>,
    private readonly workers: () => WorkerInfo[],
  ) {
    registerStoreMetrics(this.registry, store);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Asks every worker for its figures (the admin host calls it before each read). */
  async refresh(): Promise<void> {
    this.reports = await this.gather();
  }

  totals(): TrafficTotals {
    return sumTotals(this.reports.map((report) => report.totals));
  }

  inFlight(): number {
    return this.reports.reduce((sum, report) => sum + report.inFlight, 0);
  }

  /** The workers' memory tiers together; undefined when none has one. */
  memoryStats(): MemoryTierStats | undefined {
    const tiers = this.reports.flatMap((report) => (report.memory ? [report.memory] : []));
    if (tiers.length === 0) return undefined;
    return sumNumbers(tiers) as unknown as MemoryTierStats;
  }

  async metrics(): Promise<string> {
    const mine = await this.registry.getMetricsAsJSON();
    const theirs = this.reports.map((report) => report.metrics.filter((metric) => !PRIMARY_METRICS.test(metric.name)));
    return AggregatorRegistry.aggregate([mine, ...theirs, this.workerSeries()]).metrics();
  }

  /** Per-worker series: how the load spreads over the workers, their memory, their restarts. */
  private workerSeries(): object[] {
    const bySlot = new Map(this.reports.map((report) => [report.slot, report]));
    const workers = this.workers();
    const labels = (slot: number) => ({ worker: String(slot) });
    return [
      {
        name: 'simple_cache_workers',
        help: 'Worker processes running (--workers).',
        type: 'gauge',
        aggregator: 'sum',
        values: [{ value: workers.length, labels: {} }],
      },
      {
        name: 'simple_cache_worker_restarts_total',
        help: 'Times a worker was replaced after it exited unexpectedly, by worker slot.',
        type: 'counter',
        aggregator: 'sum',
        values: workers.map((worker) => ({ value: worker.restarts, labels: labels(worker.slot) })),
      },
      {
        name: 'simple_cache_worker_requests_total',
        help: 'Client requests answered by each worker since it started (how the kernel spreads connections).',
        type: 'counter',
        aggregator: 'sum',
        values: [...bySlot.values()].map((r) => ({ value: r.totals.requests, labels: labels(r.slot) })),
      },
      {
        name: 'simple_cache_worker_resident_memory_bytes',
        help: 'Resident memory of each worker.',
        type: 'gauge',
        aggregator: 'sum',
        values: [...bySlot.values()].map((r) => ({ value: r.rss, labels: labels(r.slot) })),
      },
    ];
  }
}

/** Field by field: numbers added, records of numbers added key by key. */
export function sumTotals(all: readonly TrafficTotals[]): TrafficTotals {
  return sumNumbers(all) as unknown as TrafficTotals;
}

function sumNumbers(all: readonly object[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of all) {
    for (const [name, value] of Object.entries(item)) {
      if (typeof value === 'number') out[name] = ((out[name] as number | undefined) ?? 0) + value;
      else if (typeof value === 'object' && value !== null) {
        const into = (out[name] ??= {}) as Record<string, number>;
        for (const [key, n] of Object.entries(value as Record<string, number>)) into[key] = (into[key] ?? 0) + n;
      }
    }
  }
  return out;
}

/** The workers' per-second series added second by second, aligned on the newest second any of them has. */
export function sumSeries(all: readonly TrafficSeries[], seconds?: number): TrafficSeries {
  const end = Math.max(Math.floor(Date.now() / 1000), ...all.map((series) => series.end));
  const span = Math.max(1, Math.min(seconds ?? 600, ...all.map((series) => series.requests.length), 600));
  const fields = ['requests', 'fromCache', 'cacheable', 'bytesFromCache', 'bytesFromOrigin'] as const;
  const out = { end, step: 1 as const } as TrafficSeries;
  for (const field of fields) out[field] = new Array<number>(span).fill(0);
  for (const series of all) {
    for (const field of fields) {
      const values = series[field];
      for (let i = 0; i < values.length; i++) {
        // values[i] is the second series.end - (values.length - 1 - i).
        const slot = span - 1 - (end - (series.end - (values.length - 1 - i)));
        if (slot >= 0 && slot < span) out[field][slot] = (out[field][slot] as number) + (values[i] as number);
      }
    }
  }
  return out;
}
