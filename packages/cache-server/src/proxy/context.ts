import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { BaseLogger } from 'pino';
import type { CacheServerConfig, EntryMeta } from '@simple-cache/common';
import type { OriginClient } from '../origin/origin-client.js';
import type { PolicyOptions, RequestView } from '../policy/index.js';
import type { ActiveConfig } from '../live-config.js';
import type { RequestRules } from '../rules/index.js';
import type { Store } from '../store/store.js';
import type { InFlightFetches } from './collapse/in-flight.js';
import type { Outcome, OutcomeObserver } from './outcome.js';
import type { HeadRules } from './respond/heads.js';

/** The slice of a pino logger the proxy uses (Fastify's request logger and pino's both fit). */
export type Log = Pick<BaseLogger, 'error' | 'warn' | 'info' | 'debug'>;

/** What the proxy needs from the rest of the server. */
export interface ProxyDeps {
  config: Readonly<CacheServerConfig>;
  /** The start-up policy: what no reload changes (the targeted field). Decisions use the exchange's `policyFor`. */
  policy: Readonly<PolicyOptions>;
  /** What every response head needs from config and policy (respond/heads.ts), computed once. */
  heads: HeadRules;
  /** The config in force: a request reads it once, when it starts (live-config.ts). */
  live: { readonly current: ActiveConfig };
  store: Store;
  origin: OriginClient;
  logger: Log;
  /** Told every exchange's Outcome (metrics, dashboard, access log). */
  observer?: OutcomeObserver;
  /** With a store shared by several nodes (Redis): collapsing of misses across them. */
  collapse?: CrossNodeCollapse;
}

/** A key's lock across nodes; it also expires by itself. */
export interface CrossNodeLock {
  /** Never rejects. */
  release(): Promise<boolean>;
}

/**
 * Collapsing of misses across the nodes sharing a store (collapse/cross-node.ts), implemented
 * by the Redis store's locks (store/redis/lock.ts); the proxy knows nothing of Redis.
 */
export interface CrossNodeCollapse {
  /** Takes the key's lock for `ttlMs`; undefined while another node holds it. Rejects when unavailable. */
  acquire(key: string, ttlMs: number): Promise<CrossNodeLock | undefined>;
  /** Until `check` finds a value, the lock is gone, or `timeoutMs` passes. Rejects when unavailable. */
  waitForEntry<T>(
    key: string,
    check: () => Promise<T | undefined>,
    options: { timeoutMs: number },
  ): Promise<{ outcome: 'found'; value: T } | { outcome: 'released' } | { outcome: 'timeout' }>;
  /**
   * Optional (the workers of one machine have it, cluster/collapse-client.ts, and so do the nodes
   * sharing Redis, store/redis/lock.ts): until the lock holder is writing the key's body, which
   * the caller then streams as it is written instead of waiting for the commit; or the lock is
   * gone, or `timeoutMs` passes.
   * Rejects when unavailable.
   */
  follow?(
    key: string,
    options: { timeoutMs: number },
  ): Promise<{ outcome: 'write'; write: FollowedWrite } | { outcome: 'released' } | { outcome: 'timeout' }>;
}

/** Another node's write of a key, followed while it is written (CrossNodeCollapse.follow). */
export interface FollowedWrite {
  /** The entry as it will be stored (its body id and checksum come with the commit). */
  entry: Omit<EntryMeta, 'bodyId' | 'checksum'>;
  /** The body as it is written; it fails when the write does, so it never looks complete when it is not. */
  body: Readable;
  /** The committed entry, or undefined when the write failed or was not committed. */
  committed: Promise<EntryMeta | undefined>;
}

/** One client request on its way through the proxy. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** Primary cache key: the absolute URL at the origin, after the rules' key settings (query). */
  key: string;
  /** The absolute URL at the origin as the client asked for it: what the origin is sent. */
  url: string;
  view: RequestView;
  log: Log;
  /** What happened, filled in as it happens; reported once the response is done. */
  outcome: Outcome;
  /** The operator's rules for this request, as they were when it started (a reload does not change them). */
  rules: RequestRules;
}

/** The policy options for a response (or stored entry) of this status under the exchange's rules. */
export function policyFor(exchange: Pick<Exchange, 'rules'>, status: number): Readonly<PolicyOptions> {
  return exchange.rules.policyFor(status);
}

/** What every route runs with: the server's parts and the origin fetches in flight. */
export interface RouteContext {
  deps: ProxyDeps;
  fetches: InFlightFetches;
}
