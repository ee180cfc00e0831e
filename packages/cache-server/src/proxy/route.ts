import type { CacheStatusForward, CacheStatusInfo, EntryMeta, HeaderMap } from '@simple-cache/common';
import { ERRORS, type ErrorSpec } from '../errors.js';
import {
  decideUse,
  forwardReasonFor,
  hasOriginOnlyPrecondition,
  isOnlyIfCached,
  readField,
  selectVariantOrIdentity,
  type UseDecision,
} from '../policy/index.js';
import { lifetimeRule, type RequestRules } from '../rules/index.js';
import type { Outcome } from './outcome.js';

/**
 * One way of answering a request; proxy.ts runs the one chooseRoute() picks.
 * - lookup: the stored variants are needed to decide (proxy.ts looks them up and asks again);
 * - serve: a stored response answers (fresh, or stale within stale-while-revalidate);
 * - fetch: the origin is asked, conditionally when `stale` is set (a GET's revalidation);
 * - revalidate-head: a HEAD's revalidation, by a HEAD to the origin (RFC 9111 §4.3.5);
 * - pass: the request goes to the origin as it is and its answer comes back untouched;
 * - refuse: one of the catalogue's errors, the origin not contacted.
 */
export type Route =
  | { route: 'lookup' }
  | {
      route: 'serve';
      entry: EntryMeta;
      decision: UseDecision;
      /** The operator's rule whose ttl made it fresh, if one did (Cache-Status detail, the Outcome). */
      rule: string | undefined;
    }
  | {
      route: 'fetch';
      stale: EntryMeta | undefined;
      fwd: CacheStatusForward;
      /** A full miss on a node sharing its store: one fetch per key across the nodes (collapse/cross-node.ts). */
      acrossNodes: boolean;
      /** For a Range request: the largest body fetched whole (--range-fetch-max); undefined otherwise. */
      rangeLimit: number | undefined;
    }
  | { route: 'revalidate-head'; stale: EntryMeta; fwd: CacheStatusForward }
  | {
      route: 'pass';
      fwd: CacheStatusForward;
      detail?: string;
      /** The operator's rule that sent the request through (a bypass rule, issue 14). */
      rule?: string;
    }
  | { route: 'refuse'; error: ErrorSpec; status: CacheStatusInfo };

/**
 * What a route that could not finish found out (it answered nothing); chooseRoute() then
 * decides again with it:
 * - look-again: the store may hold an answer now (a response another client or node fetched);
 * - origin-decides: the request carries preconditions only the origin may evaluate;
 * - range-too-large: the object is larger than --range-fetch-max: the Range goes through;
 * - refetch: the stored response proved unusable (body gone, a 304 that selects nothing): ask
 *   the origin for the whole response, `fwd` saying why the request went forward.
 */
export type Learnt =
  | { kind: 'look-again' }
  | { kind: 'origin-decides' }
  | { kind: 'range-too-large' }
  | { kind: 'refetch'; fwd: CacheStatusForward };

/** A route's answer when it could not finish: nothing was sent, choose again with what it learnt. */
export interface Retry {
  retry: Learnt;
}

/** What running a route gives: the exchange's Outcome, or a Retry. */
export type RouteResult = Outcome | Retry;

export function isRetry(result: RouteResult): result is Retry {
  return 'retry' in result;
}

/** What chooseRoute() reads of the request's rules (rules/compile.ts RequestRules). */
export type RouteRules = Pick<RequestRules, 'bypass' | 'policyFor' | 'decidedBy'>;

export interface RouteInput {
  method: string;
  headers: HeaderMap;
  /** The primary key; undefined when the target cannot be one (refused). */
  key: string | undefined;
  /** The stored variants of the key; undefined until looked up. */
  variants: readonly EntryMeta[] | undefined;
  /** What the last route learnt, if it could not finish. */
  learnt: Learnt | undefined;
  /** Wall clock (ms), for ages. */
  now: number;
  /**
   * The operator's rules for this request (src/rules/, issue 14), as they were when it began: a
   * bypass, and the policy options (ttl, grace, …) for a stored response of each status.
   */
  rules: RouteRules;
  /** --range-fetch-max: 0 passes every Range miss through. */
  rangeFetchMax: number;
}

/**
 * The request flow of RFC 9111 as one pure decision of (request, stored variants, rules, clock):
 * the only place where the proxy branches and where the operator's rules choose a route. Every
 * branch cites its rule; policy/ answers the questions (storable, fresh, which variant).
 */
export function chooseRoute(input: RouteInput): Route {
  const { method, headers, key, learnt, rules } = input;
  if (key === undefined) return { route: 'refuse', error: ERRORS.badRequestTarget, status: {} };
  // A rule's bypass: neither served from nor stored in the cache (RFC 9211 fwd=bypass, detail the rule).
  if (rules.bypass !== undefined) return { route: 'pass', fwd: 'bypass', detail: rules.bypass, rule: rules.bypass };
  if (learnt?.kind === 'look-again') return { route: 'lookup' };
  if (learnt !== undefined) return afterRetry(learnt, input);
  // RFC 9111 §4.4 / §2: only GET and HEAD are answered from storage; the rest goes through.
  if (method !== 'GET' && method !== 'HEAD') return { route: 'pass', fwd: 'method' };
  if (input.variants === undefined) return { route: 'lookup' };
  const view = { method, headers };
  const entry = selectVariantOrIdentity(input.variants as EntryMeta[], headers);
  // RFC 9211 §2.2: nothing stored for the URL, or nothing for these request headers (Vary).
  const missReason: CacheStatusForward = input.variants.length > 0 ? 'vary-miss' : 'uri-miss';
  // RFC 9111 §4.3.2: If-Match / If-Unmodified-Since are the origin's to evaluate.
  if (hasOriginOnlyPrecondition(headers)) return { route: 'pass', fwd: entry ? 'request' : missReason };
  if (entry) {
    const decision = decideUse(view, entry, input.now, rules.policyFor(entry.status));
    if (decision.action === 'fresh' || decision.action === 'stale-while-revalidate') {
      return { route: 'serve', entry, decision, rule: lifetimeRule(rules, entry.status, decision.source) };
    }
    if (decision.action === 'revalidate') {
      // RFC 9111 §5.2.1.7: nothing usable without contacting the origin → 504.
      if (isOnlyIfCached(view)) return { route: 'refuse', error: ERRORS.onlyIfCached, status: {} };
      const fwd = forwardReasonFor(decision);
      // RFC 9111 §4.3.5: a HEAD is revalidated by a HEAD; a GET by a conditional GET (§4.3.1).
      if (method === 'HEAD') return { route: 'revalidate-head', stale: entry, fwd };
      return { route: 'fetch', stale: entry, fwd, acrossNodes: false, rangeLimit: rangeLimitFor(input) };
    }
  }
  if (isOnlyIfCached(view)) return { route: 'refuse', error: ERRORS.onlyIfCached, status: {} };
  // --range-fetch-max 0: a Range miss is never fetched whole.
  if (wantsRange(method, headers) && input.rangeFetchMax === 0) {
    return { route: 'pass', fwd: 'bypass', detail: 'range-too-large' };
  }
  // A full miss: with a store shared by several nodes, one fetch per key across them.
  return { route: 'fetch', stale: undefined, fwd: missReason, acrossNodes: true, rangeLimit: rangeLimitFor(input) };
}

function afterRetry(learnt: Exclude<Learnt, { kind: 'look-again' }>, input: RouteInput): Route {
  switch (learnt.kind) {
    case 'origin-decides':
      return { route: 'pass', fwd: 'request' };
    case 'range-too-large':
      return { route: 'pass', fwd: 'bypass', detail: 'range-too-large' };
    case 'refetch':
      return {
        route: 'fetch',
        stale: undefined,
        fwd: learnt.fwd,
        acrossNodes: false,
        rangeLimit: rangeLimitFor(input),
      };
  }
}

/** A Range miss fetches the whole body (to store it and cut the range) only up to --range-fetch-max. */
function rangeLimitFor(input: RouteInput): number | undefined {
  return wantsRange(input.method, input.headers) ? input.rangeFetchMax : undefined;
}

/** RFC 9110 §14.2: only a GET carries range semantics. */
function wantsRange(method: string, headers: HeaderMap): boolean {
  return method === 'GET' && readField(headers, 'range') !== undefined;
}
