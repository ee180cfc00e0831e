// Collapsing across the nodes sharing a store (Redis). A full miss (nothing stored for the key,
// or not for these request headers) takes the key's turn before asking the origin
// (routes/fetch.ts): the node takes the key's lock. With it, it fetches (this node's other
// clients join that fetch as usual) and releases the lock once the entry is committed or known
// not to be stored. Without it (another node is fetching), it waits for that node's write to
// begin and *follows* it as it lands (CrossNodeCollapse.follow: workers of one machine through
// cluster/collapse-client.ts, nodes sharing Redis through store/redis/lock.ts): this node's
// clients join that followed write as they would join a fetch of their own
// (collapse/followed-fetch.ts). A collapse without `follow` waits for the entry and serves it
// from the store. When the lock goes away without an entry (not storable), `--collapse-wait`
// passes, or the store fails, it fetches by itself. So at most one origin fetch per key within
// the lock window, whatever the number of nodes.
//
// Revalidations and pass-through never come here: only a miss has no stored response to serve
// meanwhile, and only its response is shared through the store.

import { requestForbidsStoring, selectVariant } from '../../policy/index.js';
import type { CrossNodeCollapse, CrossNodeLock, Exchange, FollowedWrite, ProxyDeps, RouteContext } from '../context.js';
import { followedFetch } from './followed-fetch.js';
import type { FetchOutcome, OriginFetch } from './origin-fetch.js';

/**
 * Fetch from the origin (holding the key's lock, or not), look up again (a peer stored it), or
 * follow the peer's write as it lands.
 */
export type Turn =
  | { kind: 'fetch'; lock?: CrossNodeLock; claimed?: boolean }
  | { kind: 'found' }
  | { kind: 'follow'; write: FollowedWrite; adopted?: boolean };

/** Per collapse (one per server): the turn being decided for each key, shared by this node's clients. */
const decidingByCollapse = new WeakMap<CrossNodeCollapse, Map<string, Promise<Turn>>>();
/** Exchanges that already took their turn: a look-up again never waits a second time. */
const tookTurn = new WeakSet<Exchange>();

/**
 * Call once the fetch for the key is registered (the fetch route registers it at once): whichever
 * of this node's clients started it, the lock is released when that fetch is done with.
 */
export function holdLockUntilFetched(ctx: RouteContext, exchange: Exchange, turn: Turn): void {
  if (turn.kind !== 'fetch' || !turn.lock || turn.claimed) return;
  turn.claimed = true;
  releaseAfter(ctx.deps, ctx.fetches.byKey.get(exchange.key), turn.lock);
}

/**
 * A 'follow' turn: the first of this node's clients that waited on it registers the followed
 * write as the key's fetch, so every one of them joins it (InFlightFetches.share) from its first byte.
 */
export function joinFollowedWrite(ctx: RouteContext, exchange: Exchange, turn: Turn): void {
  if (turn.kind !== 'follow' || turn.adopted) return;
  turn.adopted = true;
  ctx.fetches.adopt(exchange.key, followedFetch(ctx.deps, exchange.key, turn.write));
}

/** This exchange's turn for its key: shared by this node's clients deciding at the same time. */
export function takeTurn(ctx: RouteContext, exchange: Exchange): Promise<Turn> | Turn {
  const { deps } = ctx;
  const { collapse } = deps;
  const waitMs = deps.config.collapseWait;
  if (!collapse || !(waitMs > 0) || !mayCollapse(ctx, exchange)) return { kind: 'fetch' };
  tookTurn.add(exchange);
  let deciding = decidingByCollapse.get(collapse);
  if (!deciding) decidingByCollapse.set(collapse, (deciding = new Map()));
  const { key } = exchange;
  let turn = deciding.get(key);
  if (!turn) {
    const decided = decideTurn(deps, collapse, exchange, waitMs);
    deciding.set(key, decided);
    turn = decided;
    void decided.finally(() => {
      if (deciding.get(key) === decided) deciding.delete(key);
    });
  }
  return turn;
}

/** Not when this node already fetches the key (join it), nor for a request that may store nothing. */
function mayCollapse(ctx: RouteContext, exchange: Exchange): boolean {
  return (
    !tookTurn.has(exchange) &&
    !ctx.fetches.byKey.has(exchange.key) &&
    // Its response will not be stored, so nobody could wait for it.
    !requestForbidsStoring(exchange.view.headers)
  );
}

async function decideTurn(
  deps: ProxyDeps,
  collapse: CrossNodeCollapse,
  exchange: Exchange,
  waitMs: number,
): Promise<Turn> {
  const { key, view, log } = exchange;
  try {
    const lock = await collapse.acquire(key, waitMs);
    if (lock) return { kind: 'fetch', lock };
    if (collapse.follow) {
      const followed = await collapse.follow(key, { timeoutMs: waitMs });
      if (followed.outcome === 'write') return { kind: 'follow', write: followed.write };
      if (selectVariant(await deps.store.lookup(key), view.headers)) return { kind: 'found' };
      log.debug({ key, outcome: followed.outcome }, 'the lock holder fetched without storing in time; fetching');
      return { kind: 'fetch' };
    }
    const waited = await collapse.waitForEntry(
      key,
      async () => selectVariant(await deps.store.lookup(key), view.headers),
      { timeoutMs: waitMs },
    );
    if (waited.outcome === 'found') return { kind: 'found' };
    log.debug({ key, outcome: waited.outcome }, 'another node fetched without storing in time; fetching');
  } catch (error) {
    // Redis away: every node fetches for itself, as a single node would.
    log.debug({ err: error, key }, 'cross-node collapsing unavailable; fetching');
  }
  return { kind: 'fetch' };
}

/**
 * Waiters on other nodes look for the entry when the lock goes, so it goes once the entry is
 * committed, or as soon as the response is known not to be stored (waiting would be in vain).
 */
function releaseAfter(deps: ProxyDeps, fetch: OriginFetch | undefined, lock: CrossNodeLock): void {
  if (!fetch) {
    void lock.release();
    return;
  }
  fetch.outcome
    .then((outcome) => (willBeStored(deps, outcome) ? outcome.stored : undefined))
    .catch(() => undefined)
    .finally(() => void lock.release());
}

function willBeStored(deps: ProxyDeps, outcome: FetchOutcome): outcome is Extract<FetchOutcome, { kind: 'response' }> {
  if (outcome.kind !== 'response' || !outcome.entry) return false;
  return outcome.entry.size <= (deps.store.maxObjectSize ?? Number.POSITIVE_INFINITY);
}
