import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import type { InterimListener } from '../../origin/origin-client.js';
import { decideUse } from '../../policy/index.js';
import { policyFor, type Exchange, type ProxyDeps } from '../context.js';
import { forwardHeadersFor } from '../forward-headers.js';
import { startOriginFetch, type FetchOptions, type FetchOutcome, type OriginFetch } from './origin-fetch.js';

/** What the fetch a client joined or started brought it; 'look-again' when it must consult the store again. */
export type Shared = { result: FetchOutcome; collapsed: boolean } | 'look-again';

/**
 * The origin fetches under way, one per key: a client asking for a key that is being fetched
 * joins that fetch (collapsing) instead of asking the origin again. A fetch leaves the map once
 * its response is stored (or known not to be), so later clients find the entry in the store.
 */
export class InFlightFetches {
  readonly byKey = new Map<string, OriginFetch>();
  /**
   * Fetches sending one client's Range on (RFC 9111 §3.3): their 206 answers that Range alone,
   * so nobody joins them, and one holds its key's place in `byKey` only while no whole fetch
   * wants it (a whole fetch others can join takes it). Kept here so purges abandon them too.
   */
  private readonly ranged = new Set<OriginFetch>();

  constructor(private readonly deps: ProxyDeps) {}

  /** Joins the fetch in flight for this key, or starts (and registers) one. */
  joinOrStart(exchange: Exchange, options: FetchOptions): { fetch: OriginFetch; collapsed: boolean } {
    const current = this.byKey.get(exchange.key);
    if (current && !this.ranged.has(current)) return { fetch: current, collapsed: true };
    return { fetch: this.start(exchange, options), collapsed: false };
  }

  /**
   * The result of the fetch this client joined or started; a fetch it may not share is redone
   * alone. A client that joined after the response had arrived comes after it, as if it had found
   * it stored: it shares it only if that response is fresh for its request (RFC 9111 §4.2);
   * otherwise it consults the store again once the response is stored ('look-again').
   */
  async share(exchange: Exchange, options: FetchOptions, onInterim?: InterimListener): Promise<Shared> {
    const { fetch, collapsed } = this.joinOrStart(exchange, options);
    const late = collapsed && fetch.responded;
    const result = await outcomeOf(fetch, onInterim);
    if (!collapsed) return { result, collapsed };
    if (fetch.canShare(result, exchange.view)) {
      if (!late || this.isFreshFor(exchange, result)) return { result, collapsed };
      // Resolves once what the fetch brought is stored (or known not to be).
      if (result.kind === 'response') await result.stored;
      return 'look-again';
    }
    // Too large for the Range client that started it: this client's Range goes through as well.
    if (result.kind === 'too-large' && options.rangeLimit !== undefined) return { result, collapsed };
    // Not ours to share (uncacheable, another variant): ask the origin ourselves (hit-for-pass).
    return { result: await outcomeOf(this.startAlone(exchange, options), onInterim), collapsed: false };
  }

  /** May the response of a fetch this client joined late answer it without validation? */
  private isFreshFor(exchange: Exchange, result: FetchOutcome): boolean {
    const entry = result.kind === 'too-large' ? undefined : result.entry;
    if (!entry) return false;
    return (
      decideUse(exchange.view, entry as EntryMeta, Date.now(), policyFor(exchange, entry.status)).action === 'fresh'
    );
  }

  /** Starts a fetch that others may join. */
  start(exchange: Exchange, options: FetchOptions): OriginFetch {
    const fetch = this.startAlone(exchange, options);
    if (options.range !== undefined) this.ranged.add(fetch);
    return this.adopt(exchange.key, fetch);
  }

  /** Lets this node's clients join `fetch` (one started here, or another node's write followed here). */
  adopt(key: string, fetch: OriginFetch): OriginFetch {
    // A fetch of one client's Range takes the key's place only while it is free (nobody joins it).
    if (!this.ranged.has(fetch) || !this.byKey.has(key)) this.byKey.set(key, fetch);
    const release = () => {
      if (this.byKey.get(key) === fetch) this.byKey.delete(key);
      this.ranged.delete(fetch);
    };
    fetch.outcome.then((outcome) => (outcome.kind === 'response' ? outcome.stored.then(release) : release()), release);
    return fetch;
  }

  /** Starts a fetch for this client only: its response could not be shared (hit-for-pass). */
  startAlone(exchange: Exchange, options: FetchOptions): OriginFetch {
    const headers = forwardHeadersFor(exchange, this.deps, { keepConditionals: false });
    return startOriginFetch(this.deps, exchange, headers, options);
  }

  /**
   * RFC 9111 §4.4: an unsafe request invalidated `key` while a fetch for it was in flight. Nobody
   * joins that fetch any more, and what it brings (which predates the change) is not committed,
   * or removed again if it was, unless a newer body has replaced it meanwhile (or `removes`
   * spares it).
   */
  forget(key: string, removes: (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean = () => true): void {
    for (const fetch of this.fetchesOf(key)) this.forgetFetch(fetch, removes);
  }

  /** Every fetch in flight for `key`: the one others join, and those sending a client's Range. */
  private fetchesOf(key: string): OriginFetch[] {
    const fetches = [...this.ranged].filter((fetch) => fetch.key === key);
    const joined = this.byKey.get(key);
    return joined && !this.ranged.has(joined) ? [joined, ...fetches] : fetches;
  }

  private forgetFetch(fetch: OriginFetch, removes: (entry: Pick<EntryMeta, 'key' | 'headers'>) => boolean): void {
    const { key } = fetch;
    if (this.byKey.get(key) === fetch) this.byKey.delete(key);
    this.ranged.delete(fetch);
    // Not committed yet: it never will be. Committed already: removed below.
    fetch.abandon(removes);
    const { store } = this.deps;
    fetch.outcome
      .then((outcome) => (outcome.kind === 'response' ? outcome.stored : undefined))
      .then(async (committed) => {
        if (!committed || !removes(committed)) return;
        const current = (await store.lookup(key)).find((entry) => entry.variant === committed.variant);
        if (current?.bodyId === committed.bodyId) await store.delete(key, committed.variant);
      })
      .catch(() => {});
  }

  /**
   * A purge removed what `selects` picks: each fetch in flight that may bring such an entry is
   * forgotten (see forget()), since what it brings may predate the purge. A fetch whose response
   * head has not come yet is judged without header fields (`headers` undefined: a purge by tag
   * must count it in), and what it commits is removed only if `selects` picks that.
   */
  abandon(selects: (key: string, headers: HeaderMap | undefined) => boolean): number {
    let abandoned = 0;
    for (const fetch of new Set([...this.byKey.values(), ...this.ranged])) {
      if (!selects(fetch.key, fetch.responseHeaders)) continue;
      this.forgetFetch(fetch, (committed) => selects(committed.key, committed.headers));
      abandoned += 1;
    }
    return abandoned;
  }

  /**
   * A soft purge marked what `selects` picks stale: each fetch in flight that may bring such an
   * entry stays joinable (the purge removed nothing to refetch), but what it stores that
   * `selects` picks is stored stale, since it may predate the purge (origin-fetch.ts soften()).
   */
  soften(selects: (key: string, headers: HeaderMap | undefined) => boolean): number {
    let softened = 0;
    for (const fetch of new Set([...this.byKey.values(), ...this.ranged])) {
      if (!selects(fetch.key, fetch.responseHeaders)) continue;
      fetch.soften((committed) => selects(committed.key, committed.headers));
      softened += 1;
    }
    return softened;
  }

  /**
   * RFC 5861 §3: refreshes `stale` in the background, once: while any fetch for the key is in
   * flight (another refresh, or a client's miss) no other is started. A storable answer flows
   * into the store by itself (the writer is a consumer); a failure only leaves the entry stale.
   */
  refresh(exchange: Exchange, stale: EntryMeta): void {
    if (this.byKey.has(exchange.key)) return;
    this.start(exchange, { stale }).outcome.then(
      (outcome) => {
        if (outcome.kind === 'response' && outcome.response.status >= 500) {
          exchange.log.info({ key: exchange.key, status: outcome.response.status }, 'background revalidation failed');
        }
      },
      (error: unknown) => exchange.log.info({ err: error, key: exchange.key }, 'background revalidation failed'),
    );
  }
}

/** The fetch's outcome; meanwhile `onInterim` is told of the interim responses it brings. */
function outcomeOf(fetch: OriginFetch, onInterim: InterimListener | undefined): Promise<FetchOutcome> {
  if (onInterim === undefined) return fetch.outcome;
  const stop = fetch.onInterim(onInterim);
  return fetch.outcome.finally(stop);
}
