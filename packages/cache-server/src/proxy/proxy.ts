import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';
import { toCacheError } from '../origin/origin-client.js';
import {
  cacheKey,
  decideUse,
  isOnlyIfCached,
  mayServeStaleOnError,
  selectVariant,
  type RequestView,
} from '../policy/index.js';
import { sendError, type Exchange, type Log, type ProxyDeps, type ProxyObserver } from './context.js';
import { forwardHeadersFor } from './forward-headers.js';
import { startOriginFetch, type FetchOutcome, type OriginFetch } from './origin-fetch.js';
import { passThrough } from './pass-through.js';
import { sendFetched } from './send-fetched.js';
import { serveStored } from './serve-stored.js';

export interface Proxy {
  /** Handles one client request end to end; never throws. */
  handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void>;
  /** Fetches in flight right now (collapsed clients share one). */
  readonly inFlight: ReadonlyMap<string, OriginFetch>;
}

/**
 * The request flow of RFC 9111, in order: key → stored variants → policy decision → serve,
 * revalidate or fetch. Policy decides; the store and the origin client act.
 */
export function createProxy(deps: ProxyDeps): Proxy {
  const inFlight = new Map<string, OriginFetch>();

  async function handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
    const view: RequestView = { method: req.method ?? 'GET', headers: req.headers };
    const key = cacheKey(deps.config.origin, req.url ?? '');
    const exchange: Exchange = { req, res, key: key ?? '', view, log };
    if (deps.observer?.onExchange) observe(exchange, deps.observer.onExchange);
    try {
      if (key === undefined) return sendError(exchange, deps, ERRORS.badRequestTarget);
      if (view.method !== 'GET' && view.method !== 'HEAD') return await passThrough(exchange, deps);
      await lookupAndServe(exchange);
    } catch (error) {
      log.error({ err: error }, 'unexpected error in the proxy');
      sendError(exchange, deps, error instanceof CacheError ? error : ERRORS.originBadResponse, error);
    }
  }

  async function lookupAndServe(exchange: Exchange): Promise<void> {
    const { key, view } = exchange;
    const variants = await deps.store.lookup(key).catch((error: unknown) => {
      exchange.log.warn({ err: error, key }, 'store lookup failed; treating as a miss');
      return [] as EntryMeta[];
    });
    const entry = selectVariant(variants, view.headers);
    if (entry) {
      const decision = decideUse(view, entry, Date.now(), deps.policy);
      const status = { hit: true, ttl: Math.round(decision.ttl) };
      if (decision.action === 'fresh' || decision.action === 'stale-while-revalidate') {
        const updating = decision.action === 'stale-while-revalidate';
        if (updating) refreshInBackground(exchange, entry);
        const served = await serveStored(exchange, deps, entry, {
          xCache: updating ? X_CACHE.updating : X_CACHE.hit,
          status: updating ? { ...status, detail: 'stale-while-revalidate' } : status,
          age: decision.age,
          withoutValidation: true,
        });
        if (served === 'served') return;
        if (served === 'forward') return passThrough(exchange, deps, 'request');
      } else if (decision.action === 'revalidate' && !isOnlyIfCached(view)) {
        return fetchAndServe(exchange, entry, 'stale');
      }
    }
    // RFC 9111 §5.2.1.7: nothing usable without contacting the origin → 504.
    if (isOnlyIfCached(view)) return sendError(exchange, deps, ERRORS.onlyIfCached);
    return fetchAndServe(exchange, undefined, variants.length > 0 ? 'vary-miss' : 'uri-miss');
  }

  /** Joins the fetch in flight for this key when its response can be shared, else starts one. */
  function joinOrStart(exchange: Exchange, stale: EntryMeta | undefined): { fetch: OriginFetch; collapsed: boolean } {
    const current = inFlight.get(exchange.key);
    if (current) return { fetch: current, collapsed: true };
    return { fetch: register(exchange, stale), collapsed: false };
  }

  function register(exchange: Exchange, stale: EntryMeta | undefined): OriginFetch {
    const { key } = exchange;
    const fetch = startOriginFetch(
      deps,
      key,
      exchange.view,
      forwardHeadersFor(exchange, deps, { keepConditionals: false }),
      stale,
    );
    inFlight.set(key, fetch);
    const release = () => {
      if (inFlight.get(key) === fetch) inFlight.delete(key);
    };
    fetch.outcome.then((outcome) => (outcome.kind === 'response' ? outcome.stored.then(release) : release()), release);
    return fetch;
  }

  async function fetchAndServe(
    exchange: Exchange,
    stale: EntryMeta | undefined,
    fwd: CacheStatusForward,
  ): Promise<void> {
    let { fetch, collapsed } = joinOrStart(exchange, stale);
    let outcome: FetchOutcome;
    try {
      outcome = await fetch.outcome;
      if (collapsed && !fetch.canShare(outcome, exchange.view)) {
        // Not ours to share (uncacheable, or another variant): ask the origin ourselves.
        fetch = startOriginFetch(
          deps,
          exchange.key,
          exchange.view,
          forwardHeadersFor(exchange, deps, { keepConditionals: false }),
          stale,
        );
        collapsed = false;
        outcome = await fetch.outcome;
      }
    } catch (error) {
      return serveStaleOrFail(exchange, stale, toCacheError(error));
    }

    if (outcome.kind === 'revalidated') {
      const served = await serveStored(exchange, deps, outcome.entry, {
        xCache: X_CACHE.revalidated,
        status: { fwd, fwdStatus: 304, collapsed: collapsed || undefined },
        age: 0,
        withoutValidation: false,
      });
      if (served === 'forward') return passThrough(exchange, deps, 'request');
      if (served === 'unusable') return fetchAndServe(exchange, undefined, 'miss');
      return;
    }
    if (
      stale &&
      outcome.response.status >= 500 &&
      mayServeStaleOnError(exchange.view, stale, Date.now(), deps.policy)
    ) {
      return serveStale(exchange, stale, `origin-status-${outcome.response.status}`);
    }
    const sent = await sendFetched(exchange, deps, outcome, { fwd, expired: stale !== undefined, collapsed });
    if (sent) return;
    // Joined after the replay window: the body will be in the store once committed.
    const stored = await outcome.stored;
    if (stored) {
      const served = await serveStored(exchange, deps, stored, {
        xCache: X_CACHE.hit,
        status: { hit: true, collapsed: true },
        age: 0,
        withoutValidation: true,
      });
      if (served === 'served') return;
      if (served === 'forward') return passThrough(exchange, deps, 'request');
    }
    return fetchAndServe(exchange, undefined, 'miss');
  }

  async function serveStaleOrFail(
    exchange: Exchange,
    stale: EntryMeta | undefined,
    failure: CacheError,
  ): Promise<void> {
    if (stale && mayServeStaleOnError(exchange.view, stale, Date.now(), deps.policy)) {
      exchange.log.warn({ code: failure.code, key: exchange.key }, 'origin failed; serving stale');
      return serveStale(exchange, stale, failure.code);
    }
    sendError(exchange, deps, failure, failure.cause);
  }

  async function serveStale(exchange: Exchange, stale: EntryMeta, detail: string): Promise<void> {
    const decision = decideUse(exchange.view, stale, Date.now(), deps.policy);
    const served = await serveStored(exchange, deps, stale, {
      xCache: X_CACHE.stale,
      status: { hit: true, ttl: Math.round(decision.ttl), detail },
      age: decision.age,
      withoutValidation: true,
    });
    if (served !== 'served') sendError(exchange, deps, ERRORS.originBadResponse);
  }

  /**
   * RFC 5861 §3: one background revalidation per key. A storable answer flows into the store by
   * itself (the writer is a consumer); its failure only leaves the entry stale.
   */
  function refreshInBackground(exchange: Exchange, stale: EntryMeta): void {
    if (inFlight.has(exchange.key)) return;
    register(exchange, stale).outcome.catch((error: unknown) =>
      exchange.log.info({ err: error, key: exchange.key }, 'background revalidation failed'),
    );
  }

  return { handle, inFlight };
}

function observe(exchange: Exchange, onExchange: NonNullable<ProxyObserver['onExchange']>): void {
  const started = performance.now();
  const { res } = exchange;
  res.once('close', () => {
    const length = Number(res.getHeader('content-length'));
    onExchange({
      method: exchange.view.method,
      key: exchange.key,
      status: res.statusCode,
      xCache: String(res.getHeader('x-cache') ?? ''),
      bytes: Number.isFinite(length) && exchange.view.method !== 'HEAD' ? length : 0,
      durationMs: performance.now() - started,
      aborted: !res.writableFinished,
    });
  });
}
