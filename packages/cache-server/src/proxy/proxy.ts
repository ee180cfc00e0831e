import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheStatusForward, EntryMeta, HeaderMap } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';
import {
  cacheKey,
  decideUse,
  forwardReasonFor,
  hasOriginOnlyPrecondition,
  isOnlyIfCached,
  selectVariant,
  type RequestView,
  type UseDecision,
} from '../policy/index.js';
import { lifetimeRule } from '../rules/index.js';
import { policyFor, sendError, type Exchange, type Log, type ProxyDeps } from './context.js';
import { fetchMiss } from './collapse/cross-node.js';
import { fetchAndServe, wantsRange } from './routes/fetch.js';
import { InFlightFetches, type Flow } from './collapse/in-flight.js';
import type { OriginFetch } from './collapse/origin-fetch.js';
import { startOutcome, type OutcomeObserver } from './outcome.js';
import { passThrough } from './routes/pass.js';
import { revalidateWithHead } from './routes/revalidate-head.js';
import { serveStored } from './respond/send-stored.js';

export interface Proxy {
  /** Handles one client request end to end; never throws. */
  handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void>;
  /** Fetches in flight right now (collapsed clients share one). */
  readonly inFlight: ReadonlyMap<string, OriginFetch>;
  /** A purge removed what `selects` picks: the fetches in flight for it are abandoned (in-flight.ts). */
  abandon(selects: (key: string, headers: HeaderMap | undefined) => boolean): number;
}

/**
 * The request flow of RFC 9111, in order: key → stored variants → policy decision → serve,
 * revalidate or fetch. Policy decides; the store and the origin client act.
 */
export function createProxy(deps: ProxyDeps): Proxy {
  const fetches = new InFlightFetches(deps);
  const flow: Flow = { deps, fetches, relookup: (exchange) => lookupAndServe(exchange) };

  async function handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
    const started = performance.now();
    const view: RequestView = { method: req.method ?? 'GET', headers: req.headers };
    const target = req.url ?? '';
    const url = cacheKey(deps.config.origin, target);
    // The rules in force now: this request keeps them to its end, whatever a reload does meanwhile.
    const rules = deps.live.current.rules.forRequest(view.method, url ?? '');
    const key = url === undefined ? '' : rules.key(url);
    const outcome = startOutcome(view.method, target, key, Date.now());
    const exchange: Exchange = { req, res, key, url: url ?? '', view, log, outcome, rules };
    if (deps.observer) reportWhenDone(exchange, started, deps.observer);
    try {
      if (url === undefined) return sendError(exchange, deps, ERRORS.badRequestTarget, undefined, {});
      // A rule's bypass: neither served from nor stored in the cache (RFC 9211 fwd=bypass).
      if (rules.bypass !== undefined) {
        exchange.outcome.rule = rules.bypass;
        return await passThrough(flow, exchange, 'bypass', rules.bypass);
      }
      if (view.method !== 'GET' && view.method !== 'HEAD') return await passThrough(flow, exchange);
      await lookupAndServe(exchange);
    } catch (error) {
      log.error({ err: error }, 'unexpected error in the proxy');
      sendError(exchange, deps, error instanceof CacheError ? error : ERRORS.originBadResponse, error);
    }
  }

  async function lookupAndServe(exchange: Exchange): Promise<void> {
    const { key, view } = exchange;
    const variants = await deps.store.lookup(key).catch((error: unknown) => {
      // A store that is away (Redis down) has logged it once; one line per request would flood.
      const level = deps.store.health?.().state === 'degraded' ? 'debug' : 'warn';
      exchange.log[level]({ err: error, key }, 'store lookup failed; treating as a miss');
      return [] as EntryMeta[];
    });
    const entry = selectVariant(variants, view.headers);
    // RFC 9211 §2.2: nothing stored for the URL, or nothing for these request headers (Vary).
    const missReason: CacheStatusForward = variants.length > 0 ? 'vary-miss' : 'uri-miss';
    // RFC 9111 §4.3.2: If-Match / If-Unmodified-Since are the origin's to evaluate.
    if (hasOriginOnlyPrecondition(view.headers)) return passThrough(flow, exchange, entry ? 'request' : missReason);
    if (entry) {
      const decision = decideUse(view, entry, Date.now(), policyFor(exchange, entry.status));
      if (decision.action === 'fresh' || decision.action === 'stale-while-revalidate') {
        if (await serveFromCache(exchange, entry, decision)) return;
        return fetchAndServe(flow, exchange, undefined, 'miss');
      }
      if (decision.action === 'revalidate') {
        // RFC 9111 §5.2.1.7: nothing usable without contacting the origin → 504.
        if (isOnlyIfCached(view)) return sendError(exchange, deps, ERRORS.onlyIfCached, undefined, {});
        return revalidate(exchange, entry, forwardReasonFor(decision));
      }
    }
    if (isOnlyIfCached(view)) return sendError(exchange, deps, ERRORS.onlyIfCached, undefined, {});
    if (wantsRange(view) && deps.config.rangeFetchMax === 0) {
      return passThrough(flow, exchange, 'bypass', 'range-too-large');
    }
    return fetchMiss(flow, exchange, missReason);
  }

  /**
   * A fresh entry (or one the request accepts stale, or within stale-while-revalidate, which
   * also starts one background refresh: RFC 5861 §3). False when its body proved unusable.
   */
  async function serveFromCache(exchange: Exchange, entry: EntryMeta, decision: UseDecision): Promise<boolean> {
    exchange.outcome.route = 'serve';
    const updating = decision.action === 'stale-while-revalidate';
    if (updating) fetches.refresh(exchange, entry);
    const rule = lifetimeRule(exchange.rules, entry.status, decision.source);
    if (rule !== undefined) exchange.outcome.rule = rule;
    const served = await serveStored(exchange, deps, entry, {
      xCache: updating ? X_CACHE.updating : X_CACHE.hit,
      status: { hit: true, ttl: decision.ttl, detail: HIT_DETAILS[decision.reason] ?? rule },
      age: decision.age,
      withoutValidation: true,
    });
    if (served === 'forward') await passThrough(flow, exchange, 'request');
    return served !== 'unusable';
  }

  /** RFC 9111 §4.3.1: a conditional request (a HEAD for a client's HEAD, §4.3.5), then serve. */
  function revalidate(exchange: Exchange, entry: EntryMeta, fwd: CacheStatusForward): Promise<void> {
    if (exchange.view.method === 'HEAD') return revalidateWithHead(flow, exchange, entry, fwd);
    return fetchAndServe(flow, exchange, entry, fwd);
  }

  return { handle, inFlight: fetches.byKey, abandon: (selects) => fetches.abandon(selects) };
}

/** Cache-Status `detail` for hits that are not plain fresh ones (RFC 9211 §2.9). */
const HIT_DETAILS: Readonly<Record<string, string>> = {
  'stale-while-revalidate': 'stale-while-revalidate',
  'request-max-stale': 'max-stale',
  immutable: 'immutable',
};

/** Once the response is done (or the client gone), its Outcome goes to the observer. */
function reportWhenDone(exchange: Exchange, started: number, observer: OutcomeObserver): void {
  const { res, outcome } = exchange;
  res.once('close', () => {
    outcome.durationMs = performance.now() - started;
    outcome.aborted = !res.writableFinished;
    observer.onOutcome(outcome);
  });
}
