import type { Exchange, RouteContext } from '../context.js';
import type { RouteResult } from '../retry.js';
import type { Route } from '../route.js';
import { sendStale } from '../respond/send-stale.js';

/**
 * The origin failed a revalidation and chooseRoute() found that the stale entry may answer
 * instead (RFC 5861 §4, RFC 9111 §4.2.4): X-Cache STALE, Cache-Status saying how the origin
 * failed. The Outcome keeps the route that went to the origin (fetch, revalidate-head). When the
 * request carries preconditions only the origin may evaluate, the origin decides.
 */
export async function serveStaleRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { entry, status }: Extract<Route, { route: 'serve-stale' }>,
): Promise<RouteResult> {
  // No response at all (refused, reset, timed out, unreadable): worth a line; a 5xx is the origin's answer.
  if (status.fwdStatus === undefined) {
    exchange.log.warn({ code: status.detail, key: exchange.key }, 'origin failed; serving stale');
  }
  const served = await sendStale(exchange, ctx.deps, entry, status);
  return served === 'forward' ? { retry: { kind: 'origin-decides' } } : exchange.outcome;
}
