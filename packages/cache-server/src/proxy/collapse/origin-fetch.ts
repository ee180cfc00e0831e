import type { EntryMeta, EntryPart, HeaderMap } from '@simple-cache/common';
import type { InterimListener, OriginResponse } from '../../origin/origin-client.js';
import {
  conditionalHeaders,
  decideAnswerStorable,
  freshenWithNotModified,
  freshnessLifetime,
  markStale,
  matchesVariant,
  mayServeStaleOnError,
  notModifiedMatches,
  requestForbidsStoring,
  type RequestView,
  type StorabilityDecision,
} from '../../policy/index.js';
import { lifetimeRule } from '../../rules/index.js';
import { policyFor, type Exchange, type ProxyDeps } from '../context.js';
import { contentLengthOf } from '../respond/heads.js';
import type { FanOut } from './fan-out.js';
import { startStoring, type PurgedFetch } from './start-storing.js';

/** The origin sent a full response: its body flows through `fanOut` to the store and to clients. */
export interface FetchedResponse {
  kind: 'response';
  response: OriginResponse;
  /** `range`: a 206 stored as a part, holding those bytes (RFC 9111 §3.3). */
  storability: StorabilityDecision & { range?: Omit<EntryPart, 'variant'> };
  /** The entry as it will be stored (undefined when not storable); a part for a 206. */
  entry: Omit<EntryMeta, 'bodyId' | 'checksum'> | undefined;
  /** The rule whose ttl or default-ttl it is stored with (Cache-Status detail); undefined when its own. */
  rule?: string | undefined;
  /**
   * The cache stores br and gzip copies beside the identity body (stored-codings.ts): clients
   * of every coding share this fetch, and its response varies on Accept-Encoding.
   */
  compressed?: boolean;
  fanOut: FanOut;
  /** Resolves with the stored entry once committed, or undefined when not stored. */
  stored: Promise<EntryMeta | undefined>;
  /**
   * Why a storable response is not being stored, as the store said (e.g. CACHE_ERR_STORE_DEGRADED:
   * it refused the write up front, or the write already failed); undefined while it is being stored.
   */
  storeRefusal(): string | undefined;
  /**
   * Another node's write, followed here (followed-fetch.ts): a client's head waits for its first
   * byte, so that a write ending before it leaves the client free to ask the origin itself.
   */
  followed?: boolean;
}

/** The origin confirmed a stale entry (304): the entry is freshened and stored again. */
export interface Revalidated {
  kind: 'revalidated';
  entry: EntryMeta;
  response: OriginResponse;
  /** The freshened metadata reached the store (not when the request said no-store, or the store failed). */
  stored: boolean;
}

/**
 * A fetch started for a Range request found a body larger than `--range-fetch-max` (or of
 * unknown length): it was dropped unread, and the client's Range goes to the origin as it is.
 */
export interface TooLarge {
  kind: 'too-large';
  response: OriginResponse;
}

export type FetchOutcome = FetchedResponse | Revalidated | TooLarge;

export interface FetchOptions {
  /** The stored response being revalidated: the request is conditional (RFC 9111 §4.3.1). */
  stale?: EntryMeta;
  /** Largest body accepted (a fetch on behalf of a Range request); larger gives 'too-large'. */
  rangeLimit?: number | undefined;
  /**
   * The client's Range (and the If-Range qualifying it) to send: a 206 answering it is stored as
   * a part (RFC 9111 §3.3); nobody else can share it (a part is never a complete response).
   */
  range?: HeaderMap | undefined;
}

/** One request to the origin on behalf of every client that asked for the same key meanwhile. */
export interface OriginFetch {
  key: string;
  outcome: Promise<FetchOutcome>;
  /** True once the origin's response head is here: a client joining now comes after the response. */
  readonly responded: boolean;
  /** The response's header fields once it is here (a 304's: the freshened entry's). */
  readonly responseHeaders: HeaderMap | undefined;
  /**
   * Nobody may rely on this fetch any more (a purge, an unsafe request): its clients still get
   * the body, but an entry `removes` picks is not committed.
   */
  abandon(removes: (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean): void;
  /**
   * A soft purge selected what this fetch may bring: its clients still get it (the purge removed
   * nothing), but what it stores that `softens` picks is stored stale (start-storing.ts
   * softenIfPurged), since it may predate the purge.
   */
  soften(softens: (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean): void;
  /** May a client with these request headers share this fetch's response? */
  canShare(outcome: FetchOutcome, view: RequestView): boolean;
  /** Tells `listener` of each interim (1xx) response from now until the final one; returns how to stop. */
  onInterim(listener: InterimListener): () => void;
}

/** What a fetch needs to know of the exchange that starts it. */
export type FetchTarget = Pick<Exchange, 'key' | 'url' | 'view' | 'rules'>;

/**
 * Starts a GET for the exchange's URL, stored under its key (a HEAD from the client is fetched
 * as GET so the body can be stored, as nginx does). With a stale entry the request is
 * conditional (RFC 9111 §4.3.1). Decisions use the exchange's rules as they were when it began.
 */
export function startOriginFetch(
  deps: ProxyDeps,
  target: FetchTarget,
  forwardHeaders: HeaderMap,
  options: FetchOptions = {},
): OriginFetch {
  const { key } = target;
  let removes: ((entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean) | undefined;
  let softens: ((entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean) | undefined;
  const purged: PurgedFetch = {
    dropped: (entry) => removes?.(entry) === true,
    softened: (entry) => softens?.(entry) === true,
  };
  // The clients waiting on this fetch when an interim response arrives (routes/fetch.ts).
  const interimListeners = new Set<InterimListener>();
  const interim: InterimListener = (status, headers) => {
    for (const listener of interimListeners) listener(status, headers);
  };
  const outcome = fetchOnce(deps, target, forwardHeaders, options, purged, interim);
  let responded = false;
  let responseHeaders: HeaderMap | undefined;
  outcome.then(
    (result) => {
      responded = true;
      responseHeaders = result.kind === 'revalidated' ? result.entry.headers : result.response.headers;
    },
    () => {},
  );
  return {
    key,
    outcome,
    get responded() {
      return responded;
    },
    get responseHeaders() {
      return responseHeaders;
    },
    abandon(predicate) {
      removes = predicate;
    },
    soften(predicate) {
      softens = predicate;
    },
    onInterim(listener) {
      interimListeners.add(listener);
      return () => void interimListeners.delete(listener);
    },
    canShare: mayShare,
  };
}

/** May a client with `other`'s request headers share what a fetch brought? */
export function mayShare(result: FetchOutcome, other: RequestView): boolean {
  if (result.kind === 'too-large') return false;
  if (result.kind === 'revalidated') return matchesVariant(result.entry, other.headers);
  // An uncacheable response is one client's: others make their own request (hit-for-pass).
  if (!result.entry) return false;
  // What is being compressed is the identity body, which every client gets on the miss.
  const headers = result.compressed ? { ...other.headers, 'accept-encoding': 'identity' } : other.headers;
  return matchesVariant(result.entry as EntryMeta, headers);
}

async function fetchOnce(
  deps: ProxyDeps,
  target: FetchTarget,
  forwardHeaders: HeaderMap,
  { stale, rangeLimit, range }: FetchOptions,
  purged: PurgedFetch,
  onInterim: InterimListener,
): Promise<FetchOutcome> {
  const { key, url, view } = target;
  const headers = range === undefined ? forwardHeaders : { ...forwardHeaders, ...range };
  let response = await deps.origin.request({
    method: 'GET',
    url,
    headers: withValidators(headers, stale),
    onInterim,
  });
  if (stale && response.status === 304) {
    if (notModifiedMatches(stale, response)) return freshen(deps, target, stale, response, purged);
    // RFC 9111 §4.3.4: a 304 that selects no stored response cannot be used; ask again, unconditionally.
    response.body.resume();
    response = await deps.origin.request({ method: 'GET', url, headers: forwardHeaders, onInterim });
  }
  // The body failed in the packet that brought the head (a bad chunk size): the fetch failed
  // before a byte could be relayed, so clients get a clear 502 (or the stale entry, RFC 5861 §4).
  if (response.body.errored) throw response.body.errored;
  // Unknown length counts as too large: it could be anything.
  if (
    rangeLimit !== undefined &&
    response.status === 200 &&
    !((contentLengthOf(response.headers) ?? Infinity) <= rangeLimit)
  ) {
    response.body.destroy();
    if (stale) void deps.store.delete(key, stale.variant).catch(() => {});
    return { kind: 'too-large', response };
  }
  const policy = policyFor(target, response.status);
  const storability = keepsStaleOnError(target, stale, response)
    ? { storable: false as const, reason: 'stale-if-error' }
    : decideAnswerStorable({ method: 'GET', headers: view.headers }, response, policy, range !== undefined);
  if (!storability.storable && stale && response.status < 500) {
    // The origin answered with a newer response that may not be stored: the old one is outdated.
    void deps.store.delete(key, stale.variant).catch(() => {});
  }
  const rule = storability.storable
    ? lifetimeRule(target.rules, response.status, freshnessLifetime(response, policy).source)
    : undefined;
  return {
    kind: 'response',
    response,
    storability,
    rule,
    ...startStoring(deps, target, response, storability, purged),
  };
}

/**
 * RFC 5861 §4: while the stored response may still be served because the origin errs, a 5xx
 * answer to its revalidation must not replace it, however cacheable the 5xx is.
 */
function keepsStaleOnError(target: FetchTarget, stale: EntryMeta | undefined, response: OriginResponse): boolean {
  if (stale === undefined || response.status < 500) return false;
  return mayServeStaleOnError(target.view, stale, Date.now(), policyFor(target, stale.status), 'error-status');
}

function withValidators(headers: HeaderMap, stale: EntryMeta | undefined): HeaderMap {
  return stale ? { ...headers, ...conditionalHeaders(stale) } : headers;
}

/**
 * RFC 9111 §4.3.4: the 304 freshens the stored response, which is written back unless the
 * request forbids storing (policy requestForbidsStoring). Fields it brings that forbid a shared
 * cache to keep it (no-store, private) are written back too: the entry is then not used again
 * (policy/use.ts). A soft purge that came meanwhile leaves it stale: the 304 answers a request
 * sent before the purge.
 */
async function freshen(
  deps: ProxyDeps,
  target: FetchTarget,
  stale: EntryMeta,
  response: OriginResponse,
  purged: PurgedFetch,
): Promise<Revalidated> {
  const { view } = target;
  response.body.resume();
  const { requestTime, responseTime } = response;
  const entry = freshenWithNotModified(stale, response, requestTime, responseTime, deps.policy);
  const kept = purged.softened(entry)
    ? (markStale(entry, Date.now(), policyFor(target, entry.status)) ?? entry)
    : entry;
  let stored = false;
  if (!requestForbidsStoring(view.headers)) {
    stored = await deps.store.updateMeta(kept).then(
      () => true,
      (error: unknown) => {
        deps.logger.warn({ err: error, key: entry.key }, 'could not store revalidated metadata');
        return false;
      },
    );
  }
  return { kind: 'revalidated', entry, response, stored };
}
