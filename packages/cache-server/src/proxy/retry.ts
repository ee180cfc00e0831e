import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import type { ErrorSpec } from '../errors.js';
import type { Outcome } from './outcome.js';

// What a route gives back to proxy.ts: the exchange's Outcome when it answered, or a Retry saying
// what it learnt when it could not finish, for chooseRoute() (route.ts) to decide again with.

/**
 * What a route that could not finish found out (it answered nothing); chooseRoute() then
 * decides again with it:
 * - look-again: the store may hold an answer now (a response another client or node fetched);
 * - origin-decides: the request carries preconditions only the origin may evaluate;
 * - range-too-large: the object is larger than --range-fetch-max: the Range goes to the origin
 *   (`fwd` saying why the request went forward in the first place);
 * - refetch: the stored response proved unusable (body gone, a 304 that selects nothing): ask
 *   the origin for the whole response, `fwd` saying why the request went forward;
 * - origin-failed: the origin failed the revalidation of `stale`: no usable response (`error`,
 *   the catalogue's 502/504) or a 5xx (`status`). Nothing was sent: `held` sends the failure on.
 */
export type Learnt =
  | { kind: 'look-again' }
  | { kind: 'origin-decides' }
  | { kind: 'range-too-large'; fwd: CacheStatusForward }
  | { kind: 'refetch'; fwd: CacheStatusForward }
  | {
      kind: 'origin-failed';
      stale: EntryMeta;
      fwd: CacheStatusForward;
      failed: { error: ErrorSpec } | { status: number };
      held: HeldAnswer;
    };

/**
 * What a route had in hand when the origin failed, not sent yet: sending it finishes the route
 * (the catalogue's error; the origin's 5xx, relayed as any answer). Held only while proxy.ts asks
 * chooseRoute() again, a pass without I/O, so a 5xx body is still waiting for its consumers
 * (collapse/start-storing.ts starts it flowing on the next turn of the event loop).
 */
export interface HeldAnswer {
  send(): Promise<RouteResult> | RouteResult;
}

/** A route's answer when it could not finish: nothing was sent, choose again with what it learnt. */
export interface Retry {
  retry: Learnt;
}

/** What running a route gives: the exchange's Outcome, or a Retry. */
export type RouteResult = Outcome | Retry;

export function isRetry(result: RouteResult): result is Retry {
  return 'retry' in result;
}

/** The origin failed the revalidation of `stale`; whether `stale` answers instead is chooseRoute()'s to decide. */
export function originFailed(
  stale: EntryMeta,
  fwd: CacheStatusForward,
  failed: Extract<Learnt, { kind: 'origin-failed' }>['failed'],
  send: HeldAnswer['send'],
): Retry {
  return { retry: { kind: 'origin-failed', stale, fwd, failed, held: { send } } };
}
