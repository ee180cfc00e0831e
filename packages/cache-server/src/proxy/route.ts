import type { CacheStatusForward, CacheStatusInfo, EntryMeta, HeaderMap } from '@simple-cache/common';
import { ERRORS, type ErrorSpec } from '../errors.js';
import {
  asResponse,
  decideUse,
  forwardReasonFor,
  hasOriginOnlyPrecondition,
  isOnlyIfCached,
  isPart,
  mayServeStaleOnError,
  planFromParts,
  readField,
  selectParts,
  selectVariantOrIdentity,
  type OriginFailure,
  type PartEntry,
  type UseDecision,
} from '../policy/index.js';
import { lifetimeRule, type RequestRules } from '../rules/index.js';
import type { HeldAnswer, Learnt } from './retry.js';

/**
 * One way of answering a request; proxy.ts runs the one chooseRoute() picks.
 * - lookup: the stored variants are needed to decide (proxy.ts looks them up and asks again);
 * - serve: a stored response answers (fresh, or stale within stale-while-revalidate);
 * - serve-parts: fresh stored parts (206s, RFC 9111 §3.3) hold every byte a GET's Range asks for;
 * - fetch: the origin is asked, conditionally when `stale` is set (a GET's revalidation), with
 *   the client's Range when `forwardRange` is set (its 206 is stored as a part);
 * - revalidate-head: a HEAD's revalidation, by a HEAD to the origin (RFC 9111 §4.3.5);
 * - pass: the request goes to the origin as it is and its answer comes back untouched;
 * - refuse: one of the catalogue's errors, the origin not contacted;
 * - serve-stale: the origin failed a revalidation and the stale entry may answer instead
 *   (RFC 5861 §4 stale-if-error, RFC 9111 §4.2.4), `status` saying how it failed (Cache-Status);
 * - relay-failure: it may not: the client gets what the route held back (an origin failure's
 *   502/504, or the origin's own 5xx).
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
      route: 'serve-parts';
      /** The parts of the request's representation, newest first, all combinable (RFC 9111 §3.4). */
      held: PartEntry[];
      /** The newest part's: how fresh the parts are. */
      decision: UseDecision;
    }
  | {
      route: 'fetch';
      stale: EntryMeta | undefined;
      fwd: CacheStatusForward;
      /** A full miss on a node sharing its store: one fetch per key across the nodes (collapse/cross-node.ts). */
      acrossNodes: boolean;
      /** For a Range request: the largest body fetched whole (--range-fetch-max); undefined otherwise. */
      rangeLimit: number | undefined;
      /**
       * The client's Range (and If-Range) go to the origin (RFC 9111 §3.3): the representation is
       * known to be larger than --range-fetch-max, or that is 0. A 206 answering it is relayed and
       * stored as a part; any other answer is handled as for a whole fetch.
       */
      forwardRange: boolean;
    }
  | { route: 'revalidate-head'; stale: EntryMeta; fwd: CacheStatusForward }
  | {
      route: 'pass';
      fwd: CacheStatusForward;
      detail?: string;
      /** The operator's rule that sent the request through (a bypass rule, issue 14). */
      rule?: string;
    }
  | { route: 'refuse'; error: ErrorSpec; status: CacheStatusInfo }
  | { route: 'serve-stale'; entry: EntryMeta; status: CacheStatusInfo }
  | { route: 'relay-failure'; held: HeldAnswer };

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
  // RFC 9211 §2.2: nothing stored for the URL, or nothing for these request headers (Vary);
  // parts alone are not a response for the URL.
  const missReason: CacheStatusForward = input.variants.some((stored) => !isPart(stored)) ? 'vary-miss' : 'uri-miss';
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
      return {
        route: 'fetch',
        stale: entry,
        fwd,
        acrossNodes: false,
        rangeLimit: rangeLimitFor(input),
        forwardRange: false,
      };
    }
  }
  // RFC 9111 §3.3: no complete response answers; stored parts may, for a Range inside them.
  const parts = partsRoute(input);
  if (parts.route === 'serve-parts') return parts;
  if (isOnlyIfCached(view)) return { route: 'refuse', error: ERRORS.onlyIfCached, status: {} };
  if (parts.route === 'fetch-range') return rangeFetch(missReason);
  // A full miss: with a store shared by several nodes, one fetch per key across them.
  return {
    route: 'fetch',
    stale: undefined,
    fwd: missReason,
    acrossNodes: true,
    rangeLimit: rangeLimitFor(input),
    forwardRange: false,
  };
}

/**
 * What stored parts (RFC 9111 §3.3) do for a request no complete response answered:
 * - serve-parts: fresh parts of one representation hold every byte the GET's Range asks for;
 * - fetch-range: the client's Range goes to the origin: the parts say the representation is
 *   larger than --range-fetch-max, or --range-fetch-max is 0;
 * - fetch: the whole response is fetched: a request without Range or a HEAD (a part never
 *   answers those), or a Range on a representation small enough to fetch whole, or of a length
 *   not known yet (the whole fetch finds it out, and gives up past --range-fetch-max).
 * Only what the client asked for is fetched, not just the bytes the parts lack: a request with
 * several gaps would need a multipart answer to stitch, and the origin's 206 to the client's own
 * Range is the answer it can relay as it comes.
 */
function partsRoute(
  input: RouteInput,
): Extract<Route, { route: 'serve-parts' }> | { route: 'fetch-range' } | { route: 'fetch' } {
  const { method, headers } = input;
  // RFC 9110 §14.2: only a GET carries range semantics; a part never answers anything else.
  if (!wantsRange(method, headers)) return { route: 'fetch' };
  const { held } = selectParts(input.variants ?? [], headers);
  const newest = held[0];
  if (newest === undefined) return input.rangeFetchMax === 0 ? { route: 'fetch-range' } : { route: 'fetch' };
  const view = { method, headers };
  const decision = decideUse(view, asResponse(newest), input.now, input.rules.policyFor(newest.status));
  // A stale part is not revalidated (a conditional range request would be): the Range is asked
  // again, and a 206 with the same strong validator joins the parts it matches (§3.4).
  if (decision.action === 'fresh' && planFromParts(view, held).kind !== 'outside') {
    return { route: 'serve-parts', held, decision };
  }
  return newest.part.length > input.rangeFetchMax ? { route: 'fetch-range' } : { route: 'fetch' };
}

/** A fetch that sends the client's Range as it is (its 206 stored as a part); never collapsed across nodes. */
function rangeFetch(fwd: CacheStatusForward): Route {
  return { route: 'fetch', stale: undefined, fwd, acrossNodes: false, rangeLimit: undefined, forwardRange: true };
}

function afterRetry(learnt: Exclude<Learnt, { kind: 'look-again' }>, input: RouteInput): Route {
  switch (learnt.kind) {
    case 'origin-decides':
      return { route: 'pass', fwd: 'request' };
    case 'range-too-large':
      // Too large to fetch whole: the client's Range goes as it is, and its 206 is stored (§3.3).
      return rangeFetch(learnt.fwd);
    case 'refetch':
      return {
        route: 'fetch',
        stale: undefined,
        fwd: learnt.fwd,
        acrossNodes: false,
        rangeLimit: rangeLimitFor(input),
        forwardRange: false,
      };
    case 'origin-failed':
      return afterOriginFailed(learnt, input);
  }
}

/**
 * The origin failed a revalidation: the stale entry answers when the policy allows it for this
 * failure (RFC 5861 §4 stale-if-error, the response's or the request's, a rule's, `--grace`; RFC
 * 9111 §4.2.4 `--disconnected-grace` when the origin could not be reached or did not answer in
 * time; never under no-cache, must-revalidate, proxy-revalidate or s-maxage), else the failure
 * goes to the client. Cache-Status says why (RFC 9211 §2.4 fwd-status when the origin answered).
 */
function afterOriginFailed(learnt: Extract<Learnt, { kind: 'origin-failed' }>, input: RouteInput): Route {
  const { stale, fwd, failed } = learnt;
  const failure: OriginFailure =
    'status' in failed || !DISCONNECTED.has(failed.error.code) ? 'error-status' : 'disconnected';
  const view = { method: input.method, headers: input.headers };
  if (!mayServeStaleOnError(view, stale, input.now, input.rules.policyFor(stale.status), failure)) {
    return { route: 'relay-failure', held: learnt.held };
  }
  const status: CacheStatusInfo =
    'status' in failed
      ? { fwd, fwdStatus: failed.status, detail: `origin-status-${failed.status}` }
      : { fwd, detail: failed.error.code };
  return { route: 'serve-stale', entry: stale, status };
}

/** Refused, reset, unresolvable or silent: the cache is disconnected. A response it could not read is not. */
const DISCONNECTED: ReadonlySet<string> = new Set([ERRORS.originUnreachable.code, ERRORS.originTimeout.code]);

/** A Range miss fetches the whole body (to store it and cut the range) only up to --range-fetch-max. */
function rangeLimitFor(input: RouteInput): number | undefined {
  return wantsRange(input.method, input.headers) ? input.rangeFetchMax : undefined;
}

/** RFC 9110 §14.2: only a GET carries range semantics. */
function wantsRange(method: string, headers: HeaderMap): boolean {
  return method === 'GET' && readField(headers, 'range') !== undefined;
}
