import type { CacheStatusForward, HeaderMap } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { ERRORS } from '../../errors.js';
import { toCacheError } from '../../origin/origin-client.js';
import { currentAge } from '../../policy/index.js';
import { holdLockUntilFetched, joinFollowedWrite, takeTurn } from '../collapse/cross-node.js';
import type { FetchedResponse, Revalidated } from '../collapse/origin-fetch.js';
import type { Exchange, RouteContext } from '../context.js';
import { noteOrigin } from '../outcome.js';
import { originFailed, type RouteResult } from '../retry.js';
import type { Route } from '../route.js';
import { sendError } from '../respond/send-error.js';
import { sendFetched } from '../respond/send-fetched.js';
import { sendInterim } from '../respond/send-interim.js';
import { sendStored, storedTtl } from '../respond/send-stored.js';

type FetchRoute = Extract<Route, { route: 'fetch' }>;

const LOOK_AGAIN: RouteResult = { retry: { kind: 'look-again' } };
const ORIGIN_DECIDES: RouteResult = { retry: { kind: 'origin-decides' } };

/**
 * Asks the origin (joining a fetch in flight for the key when its answer can be shared) and
 * answers the client: a 304 freshens `stale` and the stored body is served (RFC 9111 §4.3.4); a
 * full response streams to the client while it is stored. When the origin fails a revalidation
 * (no response, or a 5xx) nothing is sent: a Retry reports it, and chooseRoute() decides whether
 * `stale` answers instead (RFC 5861 §4, RFC 9111 §4.2.4). `fwd` is why the request went forward
 * (RFC 9211). A full miss on a node sharing its store first takes the key's turn across the
 * nodes (collapse/cross-node.ts): when another node stored the response meanwhile, it looks again.
 * With `forwardRange` the client's Range and If-Range go to the origin: a 206 answering them is
 * relayed as it came while it is stored as a part (RFC 9111 §3.3), which later Range requests
 * inside it reuse and other parts complete (§3.4); any other answer is handled as usual (a 200
 * from an origin that ignores Range is stored, and the client's ranges are cut from it).
 */
export async function fetchRoute(ctx: RouteContext, exchange: Exchange, route: FetchRoute): Promise<RouteResult> {
  exchange.outcome.route = 'fetch';
  const turn = route.acrossNodes ? await takeTurn(ctx, exchange) : undefined;
  if (turn?.kind === 'found') return LOOK_AGAIN;
  // Another worker is writing the key: its write stands in for this node's fetch.
  if (turn) joinFollowedWrite(ctx, exchange, turn);
  const answering = fetchAndAnswer(ctx, exchange, route);
  // fetchAndAnswer registers its fetch at once: the key's lock goes when that fetch is done with.
  if (turn) holdLockUntilFetched(ctx, exchange, turn);
  return answering;
}

async function fetchAndAnswer(ctx: RouteContext, exchange: Exchange, route: FetchRoute): Promise<RouteResult> {
  const { deps } = ctx;
  const { stale, fwd } = route;
  let shared;
  try {
    shared = await ctx.fetches.share(
      exchange,
      {
        stale,
        rangeLimit: route.rangeLimit,
        range: route.forwardRange ? rangeFields(exchange.view.headers) : undefined,
      },
      (status, headers) => sendInterim(exchange, deps, status, headers),
    );
  } catch (error) {
    const failure = toCacheError(error);
    const send = () => {
      sendError(exchange, deps, failure, failure.cause, { fwd });
      return exchange.outcome;
    };
    return stale ? originFailed(stale, fwd, { error: failure }, send) : send();
  }
  if (shared === 'look-again') return LOOK_AGAIN;
  const { result, collapsed } = shared;
  noteOrigin(exchange.outcome, result.response);
  if (result.kind === 'too-large') return { retry: { kind: 'range-too-large', fwd } };
  if (result.kind === 'revalidated') return answerRevalidated(ctx, exchange, result, fwd, collapsed);
  const relay = async (): Promise<RouteResult> => {
    const sent = await sendFetched(exchange, deps, result, { fwd, expired: stale !== undefined, collapsed });
    if (sent === 'refetch') {
      // Once it is known not stored, the followed write has left the fetches this node's clients join.
      await result.stored;
      exchange.log.info(
        { key: exchange.key },
        'the write followed from another node ended before its first byte; fetching',
      );
      return { retry: { kind: 'refetch', fwd } };
    }
    if (!sent) return answerAfterCommit(ctx, exchange, result, fwd, stale !== undefined);
    return exchange.outcome;
  };
  // The point of no return is this client's first byte, which relay() writes: until then the
  // 5xx's body waits in the fan-out for its consumers (collapse/start-storing.ts starts it on the
  // next turn of the event loop, after the pass through chooseRoute(), which does no I/O). Served
  // stale instead, this client never joins the fan-out: the body goes to the others, or is dropped.
  const { status } = result.response;
  if (stale && status >= 500) return originFailed(stale, fwd, { status }, relay);
  return relay();
}

/** The client's Range and the If-Range qualifying it, as it sent them (RFC 9110 §13.1.5, §14.2). */
function rangeFields(headers: HeaderMap): HeaderMap {
  const fields: HeaderMap = { range: headers['range'] };
  if (headers['if-range'] !== undefined) fields['if-range'] = headers['if-range'];
  return fields;
}

/**
 * The client joined after the body had started flowing past what is kept for late joiners: it
 * is served from the store once the entry is committed, or asks the origin alone.
 */
async function answerAfterCommit(
  ctx: RouteContext,
  exchange: Exchange,
  fetched: FetchedResponse,
  fwd: CacheStatusForward,
  expired: boolean,
): Promise<RouteResult> {
  const { deps } = ctx;
  const stored = await fetched.stored;
  if (stored) {
    const served = await sendStored(exchange, deps, stored, {
      xCache: expired ? X_CACHE.expired : X_CACHE.miss,
      status: {
        fwd,
        fwdStatus: fetched.response.status,
        ttl: storedTtl(exchange, stored),
        stored: true,
        collapsed: true,
      },
      age: currentAge(stored, Date.now()),
      withoutValidation: false,
    });
    if (served === 'served') return exchange.outcome;
    if (served === 'forward') return ORIGIN_DECIDES;
  }
  const alone = await ctx.fetches.startAlone(exchange, {}).outcome.catch((error: unknown) => toCacheError(error));
  if (alone instanceof Error) {
    sendError(exchange, deps, alone, alone.cause, { fwd });
    return exchange.outcome;
  }
  noteOrigin(exchange.outcome, alone.response);
  if (alone.kind === 'response') await sendFetched(exchange, deps, alone, { fwd, expired, collapsed: false });
  else sendError(exchange, deps, ERRORS.originBadResponse, undefined, { fwd });
  return exchange.outcome;
}

/** RFC 9111 §4.3.4: the stored response, freshened by the origin's 304, answers the client. */
async function answerRevalidated(
  ctx: RouteContext,
  exchange: Exchange,
  result: Revalidated,
  fwd: CacheStatusForward,
  collapsed: boolean,
): Promise<RouteResult> {
  const { deps } = ctx;
  const { entry } = result;
  const served = await sendStored(exchange, deps, entry, {
    xCache: X_CACHE.revalidated,
    status: {
      fwd,
      fwdStatus: 304,
      ttl: storedTtl(exchange, entry),
      stored: result.stored,
      collapsed: collapsed || undefined,
    },
    age: currentAge(entry, Date.now()),
    withoutValidation: false,
  });
  if (served === 'forward') return ORIGIN_DECIDES;
  if (served === 'unusable') return { retry: { kind: 'refetch', fwd } };
  return exchange.outcome;
}
