import type { CacheServerConfig, HeaderMap } from '@simple-cache/common';
import type { LiveConfig } from '../live-config.js';
import type { OriginClient } from '../origin/origin-client.js';
import type { PolicyOptions } from '../policy/types.js';
import type { Store } from '../store/store.js';
import type { PurgeSelection } from './purge-entries.js';
import type { Telemetry } from './telemetry.js';
import type { TrafficHistory } from './traffic-history.js';

/**
 * What the admin endpoints read of the telemetry: one process's (telemetry.ts), or the sum of
 * every worker's in a cluster's primary (cluster/cluster-telemetry.ts).
 */
export type AdminTelemetry = Pick<Telemetry, 'startedAt' | 'totals' | 'metrics'> & {
  readonly history: Pick<TrafficHistory, 'series'>;
};

/** What every admin plugin is given (the same object on the cache port and the admin port). */
export interface AdminDeps {
  config: Readonly<CacheServerConfig>;
  policy: Readonly<PolicyOptions>;
  store: Store;
  /** The origin client without telemetry: probes (ready, explain) are not traffic. */
  origin: OriginClient;
  telemetry: AdminTelemetry;
  /** The config in force and its reload. */
  live: LiveConfig;
  /** Origin fetches in flight right now. */
  inFlight(): number;
  /** With a store shared by several nodes (Redis): tells every node's memory tier what a purge removed. */
  announcePurge?(selection: PurgeSelection): Promise<void>;
  /**
   * With a shared store: drops this node's memory copies of what a purge selects; returns how
   * many (a cluster's primary: every worker's, once each has).
   */
  dropLocalCopies?(selection: PurgeSelection): number | Promise<number>;
  /**
   * Abandons this node's origin fetches in flight for what a purge selects; returns how many (a
   * cluster's primary has none: its workers abandon theirs when told to drop their copies).
   */
  abandonFetches?(selects: (key: string, headers: HeaderMap | undefined) => boolean): number;
  /**
   * A soft purge: this node's origin fetches in flight for what it selects store what they bring
   * stale; returns how many (a cluster's primary: its workers', told as for dropLocalCopies).
   */
  softenFetches?(selection: PurgeSelection): number | Promise<number>;
}

/** The first value of a query parameter (Fastify gives an array when it is repeated). */
export function queryParam(query: unknown, name: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** Every value of a repeatable query parameter, each also split on commas and spaces. */
export function queryList(query: unknown, name: string): string[] {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.flatMap((item) => String(item).split(/[\s,]+/)).filter((item) => item !== '');
}

/** `1`, `true`, `yes` and `on` (any case) switch a flag on. */
export function isTruthy(value: string | string[] | undefined): boolean {
  const first = Array.isArray(value) ? value[0] : value;
  return first !== undefined && /^(1|true|yes|on)$/i.test(first.trim());
}

/** A whole number within [min, max], else `fallback`. */
export function intParam(text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) return fallback;
  return Math.min(max, Math.max(min, Number(text)));
}
