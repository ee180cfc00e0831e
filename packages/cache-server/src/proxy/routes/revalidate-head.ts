import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import type { OriginResponse } from '../../origin/origin-client.js';
import { toCacheError } from '../../origin/origin-client.js';
import {
  conditionalHeaders,
  currentAge,
  freshenWithHead,
  freshenWithNotModified,
  mayServeStaleOnError,
  notModifiedMatches,
  requestDirectives,
} from '../../policy/index.js';
import { policyFor, type Exchange } from '../context.js';
import { fetchAndServe, serveStale, serveStaleOrFail, ttlOf } from './fetch.js';
import { forwardHeadersFor } from '../forward-headers.js';
import type { Flow } from '../collapse/in-flight.js';
import { passThrough } from './pass.js';
import { noteOrigin } from '../outcome.js';
import { relayedHead } from '../respond/heads.js';
import { writeHead } from '../respond/write-head.js';
import { serveStored } from '../respond/send-stored.js';

/**
 * A client's HEAD found a stored GET response that must be validated (stale, or no-cache on
 * either side). A HEAD, not a GET, goes to the origin, with the stored validators: the client
 * wants no body, and RFC 9111 §4.3.5 lets a 200 to a HEAD freshen the stored GET response as a
 * 304 does (§4.3.4) when its validators and length agree. When they do not, the stored response
 * is outdated and removed, and the client gets the origin's answer; other statuses are relayed
 * and leave the entry alone (only 200 says anything about the GET response).
 */
export async function revalidateWithHead(
  flow: Flow,
  exchange: Exchange,
  stale: EntryMeta,
  fwd: CacheStatusForward,
): Promise<void> {
  const { deps } = flow;
  exchange.outcome.route = 'revalidate-head';
  const headers = { ...forwardHeadersFor(exchange, deps, { keepConditionals: false }), ...conditionalHeaders(stale) };
  let response: OriginResponse;
  try {
    response = await deps.origin.request({ method: 'HEAD', url: exchange.url, headers });
  } catch (error) {
    return serveStaleOrFail(flow, exchange, stale, toCacheError(error), fwd);
  }
  response.body.resume();
  noteOrigin(exchange.outcome, response);
  const { status } = response;
  if (status === 304 && !notModifiedMatches(stale, response)) return fetchAndServe(flow, exchange, undefined, fwd);
  if (
    status >= 500 &&
    mayServeStaleOnError(exchange.view, stale, Date.now(), policyFor(exchange, stale.status), 'error-status')
  ) {
    return serveStale(flow, exchange, stale, { fwd, fwdStatus: status, detail: `origin-status-${status}` });
  }
  const freshened = freshenedBy(flow, stale, response);
  if (freshened) return serveFreshened(flow, exchange, freshened, fwd, status);
  if (status === 200) await deps.store.delete(exchange.key, stale.variant).catch(() => {});
  relayHead(flow, exchange, response, fwd);
}

/** The stored response updated by the 304 (§4.3.4) or the 200 (§4.3.5); undefined otherwise. */
function freshenedBy(flow: Flow, stale: EntryMeta, response: OriginResponse): EntryMeta | undefined {
  const { requestTime, responseTime, status } = response;
  const field = flow.deps.policy;
  if (status === 304) return freshenWithNotModified(stale, response, requestTime, responseTime, field);
  if (status === 200) return freshenWithHead(stale, response, requestTime, responseTime, field);
  return undefined;
}

async function serveFreshened(
  flow: Flow,
  exchange: Exchange,
  entry: EntryMeta,
  fwd: CacheStatusForward,
  fwdStatus: number,
): Promise<void> {
  const { deps } = flow;
  // RFC 9111 §5.2.1.5: with request no-store, no part of the response is stored.
  const stored =
    !requestDirectives(exchange.view.headers).has('no-store') &&
    (await deps.store.updateMeta(entry).then(
      () => true,
      (error: unknown) => {
        exchange.log.warn({ err: error, key: entry.key }, 'could not store HEAD update');
        return false;
      },
    ));
  const served = await serveStored(exchange, deps, entry, {
    xCache: X_CACHE.revalidated,
    status: { fwd, fwdStatus, ttl: ttlOf(exchange, entry), stored },
    age: currentAge(entry, Date.now()),
    withoutValidation: false,
  });
  if (served === 'forward') await passThrough(flow, exchange, 'request');
}

/** The origin's own answer to the HEAD, as it came (hop-by-hop fields aside). */
function relayHead(flow: Flow, exchange: Exchange, response: OriginResponse, fwd: CacheStatusForward): void {
  const { deps } = flow;
  const head = relayedHead(
    response,
    response.status === 200 ? X_CACHE.expired : X_CACHE.miss,
    { fwd, fwdStatus: response.status, detail: response.status === 200 ? 'head-outdated' : undefined },
    deps.heads,
  );
  writeHead(exchange, head);
  exchange.res.end();
}
