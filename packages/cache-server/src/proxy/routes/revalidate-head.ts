import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import type { OriginResponse } from '../../origin/origin-client.js';
import { toCacheError } from '../../origin/origin-client.js';
import {
  conditionalHeaders,
  currentAge,
  freshenWithHead,
  freshenWithNotModified,
  notModifiedMatches,
  requestForbidsStoring,
} from '../../policy/index.js';
import type { Exchange, ProxyDeps, RouteContext } from '../context.js';
import { forwardHeadersFor } from '../forward-headers.js';
import { noteOrigin } from '../outcome.js';
import { originFailed, type RouteResult } from '../retry.js';
import type { Route } from '../route.js';
import { relayedHead } from '../respond/heads.js';
import { sendInterim } from '../respond/send-interim.js';
import { sendError } from '../respond/send-error.js';
import { sendStored, storedTtl } from '../respond/send-stored.js';
import { writeHead } from '../respond/write-head.js';

const ORIGIN_DECIDES: RouteResult = { retry: { kind: 'origin-decides' } };

/**
 * A client's HEAD found a stored GET response that must be validated (stale, or no-cache on
 * either side). A HEAD, not a GET, goes to the origin, with the stored validators: the client
 * wants no body, and RFC 9111 §4.3.5 lets a 200 to a HEAD freshen the stored GET response as a
 * 304 does (§4.3.4) when its validators and length agree. When they do not, the stored response
 * is outdated and removed, and the client gets the origin's answer; other statuses are relayed
 * and leave the entry alone (only 200 says anything about the GET response). When the origin
 * fails (no response, or a 5xx), a Retry says so and chooseRoute() decides whether the stale
 * entry answers instead.
 */
export async function revalidateHeadRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { stale, fwd }: Extract<Route, { route: 'revalidate-head' }>,
): Promise<RouteResult> {
  const { deps } = ctx;
  exchange.outcome.route = 'revalidate-head';
  const headers = { ...forwardHeadersFor(exchange, deps, { keepConditionals: false }), ...conditionalHeaders(stale) };
  let response: OriginResponse;
  try {
    response = await deps.origin.request({
      method: 'HEAD',
      url: exchange.url,
      headers,
      onInterim: (status, fields) => sendInterim(exchange, deps, status, fields),
    });
  } catch (error) {
    // No response: chooseRoute() decides whether the stale entry answers instead (RFC 9111 §4.2.4).
    const failure = toCacheError(error);
    const send = () => {
      sendError(exchange, deps, failure, failure.cause, { fwd });
      return exchange.outcome;
    };
    return originFailed(stale, fwd, { error: failure }, send);
  }
  response.body.resume();
  noteOrigin(exchange.outcome, response);
  const { status } = response;
  // RFC 9111 §4.3.4: a 304 that selects no stored response cannot be used: fetch the whole response.
  if (status === 304 && !notModifiedMatches(stale, response)) return { retry: { kind: 'refetch', fwd } };
  // A 5xx (its empty body already drained): chooseRoute() decides whether the stale entry answers
  // instead (RFC 5861 §4); if not, the origin's head is relayed.
  if (status >= 500) {
    const send = () => {
      relayHead(deps, exchange, response, fwd);
      return exchange.outcome;
    };
    return originFailed(stale, fwd, { status }, send);
  }
  const freshened = freshenedBy(deps, stale, response);
  if (freshened) return answerFreshened(deps, exchange, freshened, fwd, status);
  if (status === 200) await deps.store.delete(exchange.key, stale.variant).catch(() => {});
  relayHead(deps, exchange, response, fwd);
  return exchange.outcome;
}

/** The stored response updated by the 304 (§4.3.4) or the 200 (§4.3.5); undefined otherwise. */
function freshenedBy(deps: ProxyDeps, stale: EntryMeta, response: OriginResponse): EntryMeta | undefined {
  const { requestTime, responseTime, status } = response;
  const field = deps.policy;
  if (status === 304) return freshenWithNotModified(stale, response, requestTime, responseTime, field);
  if (status === 200) return freshenWithHead(stale, response, requestTime, responseTime, field);
  return undefined;
}

async function answerFreshened(
  deps: ProxyDeps,
  exchange: Exchange,
  entry: EntryMeta,
  fwd: CacheStatusForward,
  fwdStatus: number,
): Promise<RouteResult> {
  // Written back as a 304's refresh is (collapse/origin-fetch.ts), unless the request forbids storing.
  const stored =
    !requestForbidsStoring(exchange.view.headers) &&
    (await deps.store.updateMeta(entry).then(
      () => true,
      (error: unknown) => {
        exchange.log.warn({ err: error, key: entry.key }, 'could not store HEAD update');
        return false;
      },
    ));
  const served = await sendStored(exchange, deps, entry, {
    xCache: X_CACHE.revalidated,
    status: { fwd, fwdStatus, ttl: storedTtl(exchange, entry), stored },
    age: currentAge(entry, Date.now()),
    withoutValidation: false,
  });
  if (served === 'forward') return ORIGIN_DECIDES;
  if (served === 'unusable') return { retry: { kind: 'refetch', fwd } };
  return exchange.outcome;
}

/** The origin's own answer to the HEAD, as it came (hop-by-hop fields aside). */
function relayHead(deps: ProxyDeps, exchange: Exchange, response: OriginResponse, fwd: CacheStatusForward): void {
  const head = relayedHead(
    response,
    response.status === 200 ? X_CACHE.expired : X_CACHE.miss,
    { fwd, fwdStatus: response.status, detail: response.status === 200 ? 'head-outdated' : undefined },
    deps.heads,
  );
  writeHead(exchange, head);
  exchange.res.end();
}
