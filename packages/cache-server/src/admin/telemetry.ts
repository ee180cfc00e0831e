import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { X_CACHE } from '@simple-cache/common';
import { toCacheError, type OriginClient } from '../origin/origin-client.js';
import type { Outcome, OutcomeObserver } from '../proxy/outcome.js';
import { errorCountsOf, hasTierStats, healthOf, type Store } from '../store/store.js';
import { FoldedSeries } from './folded-histogram.js';
import { readStoreStats } from './store-stats.js';
import { TrafficHistory } from './traffic-history.js';

/** Responses whose body came from storage, whether or not the origin was asked first. */
const FROM_CACHE: ReadonlySet<string> = new Set([X_CACHE.hit, X_CACHE.updating, X_CACHE.stale, X_CACHE.revalidated]);

const HIT_LABELS = { cache_status: 'hit' } as const;
const CACHE_SOURCE_LABELS = { source: 'cache' } as const;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Running totals since start, for the stats API (the registry holds the same in Prometheus form). */
export interface TrafficTotals {
  requests: number;
  cacheable: number;
  fromCache: number;
  byCacheStatus: Record<string, number>;
  bytesFromCache: number;
  bytesFromOrigin: number;
  collapsed: number;
  clientAborts: number;
  errors: Record<string, number>;
  originRequests: number;
  /** Origin requests that got a response head. */
  originResponses: number;
  originErrors: Record<string, number>;
  /** Sum of origin response times (to the response head), seconds. */
  originSeconds: number;
}

export interface Telemetry {
  readonly startedAt: number;
  readonly registry: Registry;
  readonly history: TrafficHistory;
  /** Give this to the proxy: it is told every finished exchange's Outcome. */
  readonly observer: OutcomeObserver;
  /** The origin client, timed: latency histogram and errors by code. */
  observeOrigin(origin: OriginClient): OriginClient;
  totals(): TrafficTotals;
  /** The Prometheus text exposition: this cache's metrics and the process's. */
  metrics(): Promise<string>;
  /** The same as prom-client's JSON, for a cluster's primary to sum (cluster/cluster-telemetry.ts). */
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
}

/** prom-client's process metrics exist once per process, however many caches it runs (tests run several). */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Everything the admin endpoints count. Fed by the proxy's observer (one call per exchange)
 * and by the wrapped origin client; the store's figures are read at scrape time.
 */
export function createTelemetry(options: { store: Store; inFlight?: () => number; nodeId?: string }): Telemetry {
  const registry = new Registry();
  const registers = [registry];
  const history = new TrafficHistory();
  const totals: TrafficTotals = {
    requests: 0,
    cacheable: 0,
    fromCache: 0,
    byCacheStatus: {},
    bytesFromCache: 0,
    bytesFromOrigin: 0,
    collapsed: 0,
    clientAborts: 0,
    errors: {},
    originRequests: 0,
    originResponses: 0,
    originErrors: {},
    originSeconds: 0,
  };

  const requests = new Counter({
    name: 'simple_cache_requests_total',
    help: 'Client requests answered, by X-Cache outcome (hit, miss, expired, revalidated, stale, updating, bypass; none when no response started).',
    labelNames: ['cache_status'],
    registers,
    collect: () => flushHits(),
  });
  const requestSeconds: Histogram<'cache_status'> = new Histogram({
    name: 'simple_cache_request_duration_seconds',
    help: 'Time from request to the end of the response, by X-Cache outcome.',
    labelNames: ['cache_status'],
    buckets: SECONDS_BUCKETS,
    registers,
    collect: (): void => hitSeconds.flush(),
  });
  // Hit durations, counted here and handed to the histogram at scrape (as the hit counts below).
  const hitSeconds: FoldedSeries<'cache_status'> = new FoldedSeries(requestSeconds, HIT_LABELS, SECONDS_BUCKETS);
  const bytes = new Counter({
    name: 'simple_cache_response_bytes_total',
    help: 'Response body bytes sent to clients (as written, whatever the framing), by where the body came from: cache or origin.',
    labelNames: ['source'],
    registers,
    collect: () => flushHits(),
  });
  const collapsed = new Counter({
    name: 'simple_cache_collapsed_requests_total',
    help: 'Requests that shared another request’s origin fetch instead of making their own.',
    registers,
  });
  const errors = new Counter({
    name: 'simple_cache_errors_total',
    help: 'Error responses the cache generated itself, by code (CACHE_ERR_…).',
    labelNames: ['code'],
    registers,
  });
  const aborts = new Counter({
    name: 'simple_cache_client_aborts_total',
    help: 'Responses the client left before they were complete.',
    registers,
  });
  const originSeconds = new Histogram({
    name: 'simple_cache_origin_response_seconds',
    help: 'Time until the origin’s response head arrived.',
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const originRequests = new Counter({
    name: 'simple_cache_origin_requests_total',
    help: 'Requests sent to the origin, by response status class (2xx … 5xx), or error when none came.',
    labelNames: ['status_class'],
    registers,
  });
  const originErrors = new Counter({
    name: 'simple_cache_origin_errors_total',
    help: 'Origin requests that failed without a response, by code (also those hidden by stale-if-error).',
    labelNames: ['code'],
    registers,
  });
  new Gauge({
    name: 'simple_cache_origin_fetches_in_flight',
    help: 'Origin fetches in progress (collapsed requests share one).',
    registers,
    collect() {
      this.set(options.inFlight?.() ?? 0);
    },
  });
  registerStoreMetrics(registry, options.store);
  if (options.nodeId !== undefined) {
    // Which node these figures are from (--node-id): join on it in queries rather than label every series.
    new Gauge({
      name: 'simple_cache_node_info',
      help: 'Always 1; its node label is this node’s --node-id.',
      labelNames: ['node'],
      registers,
    }).set({ node: options.nodeId }, 1);
  }

  // Fast hits are counted here and handed to prom-client's counters at scrape time (collect):
  // its label hashing on every increment would cost more than the rest of such a hit.
  let pendingHits = 0;
  let pendingHitBytes = 0;
  function flushHits(): void {
    if (pendingHits === 0) return;
    requests.inc(HIT_LABELS, pendingHits);
    if (pendingHitBytes > 0) bytes.inc(CACHE_SOURCE_LABELS, pendingHitBytes);
    pendingHits = 0;
    pendingHitBytes = 0;
  }

  /**
   * A plain HIT, counted without prom-client's label hashing (the fast path's hits are most
   * requests); `at` is when it ended (ms), for the traffic history's second.
   */
  function countHit(bytesSent: number, durationMs: number, at: number): void {
    pendingHits += 1;
    pendingHitBytes += bytesSent;
    hitSeconds.observe(durationMs / 1000);
    totals.requests += 1;
    totals.byCacheStatus[X_CACHE.hit] = (totals.byCacheStatus[X_CACHE.hit] ?? 0) + 1;
    totals.cacheable += 1;
    totals.fromCache += 1;
    totals.bytesFromCache += bytesSent;
    history.recordHit(bytesSent, at);
  }

  function onOutcome(event: Outcome): void {
    if (event.xCache === X_CACHE.hit && event.errorCode === '' && !event.aborted && !event.cacheStatus.collapsed) {
      return countHit(event.bytes, event.durationMs, event.startedAt + event.durationMs);
    }
    const status = event.xCache === '' ? 'none' : event.xCache.toLowerCase();
    const fromCache = FROM_CACHE.has(event.xCache);
    const cacheable = event.xCache !== '' && event.xCache !== X_CACHE.bypass;
    requests.inc({ cache_status: status });
    requestSeconds.observe({ cache_status: status }, event.durationMs / 1000);
    totals.requests += 1;
    totals.byCacheStatus[event.xCache || 'NONE'] = (totals.byCacheStatus[event.xCache || 'NONE'] ?? 0) + 1;
    if (cacheable) totals.cacheable += 1;
    if (fromCache) totals.fromCache += 1;
    let bytesFromCache = 0;
    let bytesFromOrigin = 0;
    if (event.errorCode !== '') {
      errors.inc({ code: event.errorCode });
      totals.errors[event.errorCode] = (totals.errors[event.errorCode] ?? 0) + 1;
    } else if (event.bytes > 0 && event.xCache !== '') {
      if (fromCache) bytesFromCache = event.bytes;
      else bytesFromOrigin = event.bytes;
      bytes.inc({ source: fromCache ? 'cache' : 'origin' }, event.bytes);
      totals.bytesFromCache += bytesFromCache;
      totals.bytesFromOrigin += bytesFromOrigin;
    }
    // RFC 9211 §2.7 `collapsed`: the request shared another's origin fetch.
    if (event.cacheStatus.collapsed === true) {
      collapsed.inc();
      totals.collapsed += 1;
    }
    if (event.aborted) {
      aborts.inc();
      totals.clientAborts += 1;
    }
    history.record({
      requests: 1,
      fromCache: fromCache ? 1 : 0,
      cacheable: cacheable ? 1 : 0,
      bytesFromCache,
      bytesFromOrigin,
    });
  }

  function observeOrigin(origin: OriginClient): OriginClient {
    return {
      async request(req) {
        const started = performance.now();
        totals.originRequests += 1;
        try {
          const response = await origin.request(req);
          const seconds = (performance.now() - started) / 1000;
          originSeconds.observe(seconds);
          totals.originSeconds += seconds;
          totals.originResponses += 1;
          originRequests.inc({ status_class: `${Math.floor(response.status / 100)}xx` });
          return response;
        } catch (error) {
          const { code } = toCacheError(error);
          originRequests.inc({ status_class: 'error' });
          originErrors.inc({ code });
          totals.originErrors[code] = (totals.originErrors[code] ?? 0) + 1;
          throw error;
        }
      },
      close: () => origin.close(),
    };
  }

  return {
    startedAt: Date.now(),
    registry,
    history,
    observer: { onOutcome },
    observeOrigin,
    totals: () => structuredClone(totals),
    metrics: () => {
      registerHotTier(registry, options.store);
      return Registry.merge([registry, processMetrics()]).metrics();
    },
    metricsJson: () => {
      registerHotTier(registry, options.store);
      return Registry.merge([registry, processMetrics()]).getMetricsAsJSON();
    },
  };
}

/** Gauges read from Store.stats() at scrape time; the hot tier's only once the store reports one. */
export function registerStoreMetrics(registry: Registry, store: Store): void {
  const registers = [registry];
  new Gauge({
    name: 'simple_cache_store_size_bytes',
    help: 'Body bytes stored.',
    registers,
    collect() {
      this.set(readStoreStats(store).size);
    },
  });
  new Gauge({
    name: 'simple_cache_store_max_size_bytes',
    help: 'Most body bytes the store keeps (--max-size).',
    registers,
    collect() {
      this.set(readStoreStats(store).maxSize);
    },
  });
  new Gauge({
    name: 'simple_cache_store_entries',
    help: 'Stored entries (variants).',
    registers,
    collect() {
      this.set(readStoreStats(store).entries);
    },
  });
  new Gauge({
    name: 'simple_cache_store_up',
    help: 'Whether the store works (1), or is degraded (0: the disk refuses writes, Redis or some cluster masters do not answer).',
    registers,
    collect() {
      this.set(healthOf(store).state === 'degraded' ? 0 : 1);
    },
  });
  const errorsCounted: Record<string, number> = {};
  new Counter({
    name: 'simple_cache_store_errors_total',
    help: 'Failures of the service behind the store (Redis), by kind: timeout, connection, cluster-down, loading, busy, readonly, auth, oom, other; unavailable = calls refused at once while it was down.',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, value] of Object.entries(errorCountsOf(store))) {
        const before = errorsCounted[kind] ?? 0;
        if (value > before) this.inc({ kind }, value - before);
        errorsCounted[kind] = Math.max(before, value);
      }
    },
  });
  let counted = 0;
  new Counter({
    name: 'simple_cache_store_evictions_total',
    help: 'Entries evicted to stay within --max-size.',
    registers,
    collect() {
      const { evictions } = readStoreStats(store);
      if (evictions > counted) this.inc(evictions - counted);
      counted = Math.max(counted, evictions);
    },
  });
}

function registerHotTier(registry: Registry, store: Store): void {
  if (registry.getSingleMetric('simple_cache_hot_tier_size_bytes') || !hasTierStats(store)) return;
  const read = () => store.memoryStats();
  const registers = [registry];
  new Gauge({
    name: 'simple_cache_hot_tier_size_bytes',
    help: 'Body bytes held in the memory tier.',
    registers,
    collect() {
      this.set(read().size);
    },
  });
  new Gauge({
    name: 'simple_cache_hot_tier_entries',
    help: 'Entries held in the memory tier.',
    registers,
    collect() {
      this.set(read().entries);
    },
  });
  new Gauge({
    name: 'simple_cache_hot_tier_max_size_bytes',
    help: 'Most body bytes the memory tier keeps.',
    registers,
    collect() {
      this.set(read().maxSize);
    },
  });
  for (const [field, help] of [
    ['hits', 'Stored bodies served from the memory tier.'],
    ['misses', 'Small stored bodies the memory tier did not hold (read from disk).'],
  ] as const) {
    let counted = 0;
    new Counter({
      name: `simple_cache_hot_tier_${field}_total`,
      help,
      registers,
      collect() {
        const value = read()[field];
        if (value > counted) this.inc(value - counted);
        counted = Math.max(counted, value);
      },
    });
  }
}
