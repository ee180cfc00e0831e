import type { Exchange, RouteContext } from '../context.js';
import type { Outcome } from '../outcome.js';
import type { Route } from '../route.js';
import { sendError } from '../respond/send-error.js';

/** One of the catalogue's errors, the origin not contacted (a target that cannot be a key, only-if-cached). */
export function refuseRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { error, status }: Extract<Route, { route: 'refuse' }>,
): Outcome {
  exchange.outcome.route = 'refuse';
  sendError(exchange, ctx.deps, error, undefined, status);
  return exchange.outcome;
}
