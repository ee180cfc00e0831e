import type { CacheStatusForward, CacheStatusInfo, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { ERRORS, type CacheError } from '../../errors.js';
import { toCacheError } from '../../origin/origin-client.js';
import {
  currentAge,
  decideUse,
  freshnessLifetime,
  mayServeStaleOnError,
  readField,
  type OriginFailure,
  type RequestView,
} from '../../policy/index.js';
import { policyFor, sendError, type Exchange } from '../context.js';
import { noteOrigin } from '../outcome.js';
import type { Flow } from '../collapse/in-flight.js';
import type {
  FetchOptions,
  FetchOutcome,
  FetchedResponse,
  OriginFetch,
  Revalidated,
} from '../collapse/origin-fetch.js';
import { passThrough } from './pass.js';
import { sendFetched } from '../respond/send-fetched.js';
import { serveStored } from '../respond/send-stored.js';

/** RFC 9110 §14.2: only a GET carries range semantics. */
export function wantsRange(view: RequestView): boolean {
  return view.method === 'GET' && readField(view.headers, 'range') !== undefined;
}

/**
 * Asks the origin (joining a fetch in flight for the key when its answer can be shared) and
 * answers the client: a 304 freshens `stale` and the stored body is served (§4.3.4); a full
 * response streams to the client while it is stored; an origin failure serves `stale` when
 * stale-if-error or grace allow (RFC 5861 §4). `fwd` is why the request went forward (RFC 9211).
 * A Range request whose object is larger than --range-fetch-max is passed through as it is.
 */
export async function fetchAndServe(
  flow: Flow,
  exchange: Exchange,
  stale: EntryMeta | undefined,
  fwd: CacheStatusForward,
): Promise<void> {
  const { deps } = flow;
  exchange.outcome.route = 'fetch';
  const options: FetchOptions = {
    stale,
    rangeLimit: wantsRange(exchange.view) ? deps.config.rangeFetchMax : undefined,
  };
  let fetched: { outcome: FetchOutcome; collapsed: boolean } | 'relookup';
  try {
    fetched = await fetchShared(flow, exchange, options);
  } catch (error) {
    return serveStaleOrFail(flow, exchange, stale, toCacheError(error), fwd);
  }
  if (fetched === 'relookup') return flow.relookup(exchange);
  const { outcome, collapsed } = fetched;
  noteOrigin(exchange.outcome, outcome.response);
  if (outcome.kind === 'too-large') return passThrough(flow, exchange, 'bypass', 'range-too-large');
  if (outcome.kind === 'revalidated') return serveRevalidated(flow, exchange, outcome, fwd, collapsed);
  const { status } = outcome.response;
  if (
    stale &&
    status >= 500 &&
    mayServeStaleOnError(exchange.view, stale, Date.now(), policyFor(exchange, stale.status), 'error-status')
  ) {
    return serveStale(flow, exchange, stale, { fwd, fwdStatus: status, detail: `origin-status-${status}` });
  }
  const sent = await sendFetched(exchange, deps, outcome, { fwd, expired: stale !== undefined, collapsed });
  if (!sent) await serveAfterCommit(flow, exchange, outcome, fwd, stale !== undefined);
}

/**
 * The outcome of the fetch this client joined or started; a fetch it may not share is redone
 * alone. A client that joined after the response had arrived comes after it, as if it had found
 * it stored: it shares it only if that response is fresh for its request (RFC 9111 §4.2);
 * otherwise it looks the request up again once the response is stored ('relookup').
 */
async function fetchShared(
  flow: Flow,
  exchange: Exchange,
  options: FetchOptions,
): Promise<{ outcome: FetchOutcome; collapsed: boolean } | 'relookup'> {
  const { fetch, collapsed } = flow.fetches.joinOrStart(exchange, options);
  const late = collapsed && fetch.responded;
  const outcome = await fetch.outcome;
  if (!collapsed) return { outcome, collapsed };
  if (fetch.canShare(outcome, exchange.view)) {
    if (!late || isFreshFor(flow, exchange, outcome)) return { outcome, collapsed };
    await settled(outcome);
    return 'relookup';
  }
  // Too large for the Range client that started it: this client's Range goes through as well.
  if (outcome.kind === 'too-large' && options.rangeLimit !== undefined) return { outcome, collapsed };
  // Not ours to share (uncacheable, another variant): ask the origin ourselves (hit-for-pass).
  const alone: OriginFetch = flow.fetches.startAlone(exchange, options);
  return { outcome: await alone.outcome, collapsed: false };
}

/** May the response of a fetch this client joined late answer it without validation? */
function isFreshFor(flow: Flow, exchange: Exchange, outcome: FetchOutcome): boolean {
  const entry =
    outcome.kind === 'revalidated' ? outcome.entry : outcome.kind === 'response' ? outcome.entry : undefined;
  if (!entry) return false;
  return decideUse(exchange.view, entry as EntryMeta, Date.now(), policyFor(exchange, entry.status)).action === 'fresh';
}

/** Resolves once what the fetch brought is stored (or known not to be). */
async function settled(outcome: FetchOutcome): Promise<void> {
  if (outcome.kind === 'response') await outcome.stored;
}

/**
 * The client joined after the body had started flowing past what is kept for late joiners: it
 * is served from the store once the entry is committed, or asks the origin alone.
 */
async function serveAfterCommit(
  flow: Flow,
  exchange: Exchange,
  outcome: FetchedResponse,
  fwd: CacheStatusForward,
  expired: boolean,
): Promise<void> {
  const stored = await outcome.stored;
  if (stored) {
    const served = await serveStored(exchange, flow.deps, stored, {
      xCache: expired ? X_CACHE.expired : X_CACHE.miss,
      status: { fwd, fwdStatus: outcome.response.status, ttl: ttlOf(exchange, stored), stored: true, collapsed: true },
      age: currentAge(stored, Date.now()),
      withoutValidation: false,
    });
    if (served === 'served') return;
    if (served === 'forward') return passThrough(flow, exchange, 'request');
  }
  const alone = await flow.fetches.startAlone(exchange, {}).outcome.catch((error: unknown) => toCacheError(error));
  if (alone instanceof Error) return sendError(exchange, flow.deps, alone, alone.cause, { fwd });
  noteOrigin(exchange.outcome, alone.response);
  if (alone.kind !== 'response') return sendError(exchange, flow.deps, ERRORS.originBadResponse, undefined, { fwd });
  await sendFetched(exchange, flow.deps, alone, { fwd, expired, collapsed: false });
}

/** RFC 9111 §4.3.4: the stored response, freshened by the origin's 304, answers the client. */
async function serveRevalidated(
  flow: Flow,
  exchange: Exchange,
  outcome: Revalidated,
  fwd: CacheStatusForward,
  collapsed: boolean,
): Promise<void> {
  const { deps } = flow;
  const { entry } = outcome;
  const served = await serveStored(exchange, deps, entry, {
    xCache: X_CACHE.revalidated,
    status: {
      fwd,
      fwdStatus: 304,
      ttl: ttlOf(exchange, entry),
      stored: outcome.stored,
      collapsed: collapsed || undefined,
    },
    age: currentAge(entry, Date.now()),
    withoutValidation: false,
  });
  if (served === 'forward') return passThrough(flow, exchange, 'request');
  if (served === 'unusable') return fetchAndServe(flow, exchange, undefined, fwd);
}

/**
 * No response from the origin: the stale entry answers when the policy allows it for this failure
 * (unreachable or timed out: disconnected, RFC 9111 §4.2.4; anything else like an error status,
 * RFC 5861 §4), else the catalogue's 502/504. Cache-Status has no fwd-status: nothing answered.
 */
export async function serveStaleOrFail(
  flow: Flow,
  exchange: Exchange,
  stale: EntryMeta | undefined,
  failure: CacheError,
  fwd: CacheStatusForward,
): Promise<void> {
  if (
    stale &&
    mayServeStaleOnError(exchange.view, stale, Date.now(), policyFor(exchange, stale.status), failureKind(failure))
  ) {
    exchange.log.warn({ code: failure.code, key: exchange.key }, 'origin failed; serving stale');
    return serveStale(flow, exchange, stale, { fwd, detail: failure.code });
  }
  sendError(exchange, flow.deps, failure, failure.cause, { fwd });
}

/** Refused, reset, unresolvable or silent: the cache is disconnected. A response it could not read is not. */
function failureKind(failure: CacheError): OriginFailure {
  const disconnected = failure.code === ERRORS.originUnreachable.code || failure.code === ERRORS.originTimeout.code;
  return disconnected ? 'disconnected' : 'error-status';
}

/** Serves a stale entry because the origin failed (X-Cache STALE; Cache-Status says why). */
export async function serveStale(
  flow: Flow,
  exchange: Exchange,
  stale: EntryMeta,
  status: CacheStatusInfo,
): Promise<void> {
  const decision = decideUse(exchange.view, stale, Date.now(), policyFor(exchange, stale.status));
  const served = await serveStored(exchange, flow.deps, stale, {
    xCache: X_CACHE.stale,
    status: { ...status, ttl: Math.floor(decision.ttl) },
    age: decision.age,
    withoutValidation: true,
  });
  if (served === 'forward') return passThrough(flow, exchange, 'request');
  if (served !== 'served') sendError(exchange, flow.deps, ERRORS.originBadResponse, undefined, status);
}

/** RFC 9211 §2.5 ttl: freshness lifetime less current age, in seconds (negative when stale). */
export function ttlOf(exchange: Exchange, entry: EntryMeta): number {
  return freshnessLifetime(entry, policyFor(exchange, entry.status)).lifetime - currentAge(entry, Date.now());
}
