import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';
import { cacheKey, type RequestView } from '../policy/index.js';
import { InFlightFetches } from './collapse/in-flight.js';
import type { OriginFetch } from './collapse/origin-fetch.js';
import type { Exchange, Log, ProxyDeps, RouteContext } from './context.js';
import { countBodyBytes, settleBytes, startOutcome, type OutcomeObserver } from './outcome.js';
import { sendError } from './respond/send-error.js';
import { isRetry, type RouteResult } from './retry.js';
import { chooseRoute, type Route, type RouteInput } from './route.js';
import { fetchRoute } from './routes/fetch.js';
import { passRoute } from './routes/pass.js';
import { refuseRoute } from './routes/refuse.js';
import { revalidateHeadRoute } from './routes/revalidate-head.js';
import { serveRoute } from './routes/serve.js';
import { serveStaleRoute } from './routes/serve-stale.js';
import { servePartsRoute } from './routes/serve-parts.js';
import { healthOf } from '../store/store.js';

export interface Proxy {
  /** Handles one client request end to end; never throws. */
  handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void>;
  /** Fetches in flight right now (collapsed clients share one). */
  readonly inFlight: ReadonlyMap<string, OriginFetch>;
  /** A purge removed what `selects` picks: the fetches in flight for it are abandoned (in-flight.ts). */
  abandon(selects: (key: string, headers: HeaderMap | undefined) => boolean): number;
  /** A soft purge marked what `selects` picks stale: what the fetches in flight for it store is stale too. */
  soften(selects: (key: string, headers: HeaderMap | undefined) => boolean): number;
}

/**
 * Passes through chooseRoute() for one request. Each Retry means another origin or store round
 * trip, so a legitimate request needs a handful at most; the bound turns a loop (a bug) into a 502.
 */
const MAX_PASSES = 16;

/**
 * The request flow of RFC 9111: key → stored variants → chooseRoute() (route.ts, the only
 * branching) → run that one route → report its Outcome. A route that cannot finish returns a
 * Retry saying what it learnt, and the flow chooses again. Policy decides; the store and the
 * origin client act.
 */
export function createProxy(deps: ProxyDeps): Proxy {
  const ctx: RouteContext = { deps, fetches: new InFlightFetches(deps) };

  async function handle(req: IncomingMessage, res: ServerResponse, log: Log): Promise<void> {
    const started = performance.now();
    const view: RequestView = { method: req.method ?? 'GET', headers: req.headers };
    const target = req.url ?? '';
    const url = cacheKey(deps.config.origin, target);
    // The rules in force now: this request keeps them to its end, whatever a reload does meanwhile.
    const rules = deps.live.current.rules.forRequest(view.method, url ?? '');
    const key = url === undefined ? undefined : rules.key(url);
    const outcome = startOutcome(view.method, target, key ?? '', Date.now());
    const exchange: Exchange = { req, res, key: key ?? '', url: url ?? '', view, log, outcome, rules };
    if (deps.observer) reportWhenDone(exchange, started, deps.observer);
    try {
      await answer(exchange, key);
    } catch (error) {
      log.error({ err: error }, 'unexpected error in the proxy');
      try {
        sendError(exchange, deps, error instanceof CacheError ? error : ERRORS.originBadResponse, error);
      } catch {
        // Not even an error answer can be written: the client learns it at once (an HTTP/2 stream
        // reset, a closed connection), not from its idle timeout (FINDINGS F18).
        exchange.res.destroy();
      }
    }
  }

  async function answer(exchange: Exchange, key: string | undefined): Promise<void> {
    let input: RouteInput = {
      method: exchange.view.method,
      headers: exchange.view.headers,
      key,
      variants: undefined,
      learnt: undefined,
      now: 0,
      rules: exchange.rules,
      rangeFetchMax: deps.config.rangeFetchMax,
    };
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const route = chooseRoute({ ...input, now: Date.now() });
      if (route.route === 'lookup') {
        input = { ...input, variants: await lookup(exchange), learnt: undefined };
        continue;
      }
      const result = await run(route, exchange);
      if (!isRetry(result)) return;
      input = { ...input, learnt: result.retry };
    }
    exchange.log.error({ key }, 'the request flow did not settle; giving up');
    sendError(exchange, deps, ERRORS.originBadResponse);
  }

  function run(route: Exclude<Route, { route: 'lookup' }>, exchange: Exchange): Promise<RouteResult> | RouteResult {
    switch (route.route) {
      case 'serve':
        return serveRoute(ctx, exchange, route);
      case 'serve-parts':
        return servePartsRoute(ctx, exchange, route);
      case 'fetch':
        return fetchRoute(ctx, exchange, route);
      case 'revalidate-head':
        return revalidateHeadRoute(ctx, exchange, route);
      case 'pass':
        return passRoute(ctx, exchange, route);
      case 'refuse':
        return refuseRoute(ctx, exchange, route);
      case 'serve-stale':
        return serveStaleRoute(ctx, exchange, route);
      case 'relay-failure':
        // The answer the route held back while chooseRoute() decided: it finishes that route.
        return route.held.send();
    }
  }

  /** The stored variants of the key; none when the store fails (a miss, not an error). */
  function lookup(exchange: Exchange): Promise<EntryMeta[]> {
    const { key } = exchange;
    return deps.store.lookup(key).catch((error: unknown) => {
      // A store that is away (Redis down) has logged it once; one line per request would flood.
      const level = healthOf(deps.store).state === 'degraded' ? 'debug' : 'warn';
      exchange.log[level]({ err: error, key }, 'store lookup failed; treating as a miss');
      return [] as EntryMeta[];
    });
  }

  return {
    handle,
    inFlight: ctx.fetches.byKey,
    abandon: (selects) => ctx.fetches.abandon(selects),
    soften: (selects) => ctx.fetches.soften(selects),
  };
}

/** Once the response is done (or the client gone), its Outcome goes to the observer, with the body bytes sent. */
function reportWhenDone(exchange: Exchange, started: number, observer: OutcomeObserver): void {
  const { req, res, outcome } = exchange;
  countBodyBytes(res, outcome);
  res.once('close', () => {
    outcome.durationMs = performance.now() - started;
    outcome.aborted = !res.writableFinished;
    settleBytes(res, outcome);
    observer.onOutcome(outcome, req);
  });
}
