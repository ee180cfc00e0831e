import { X_CACHE } from '@simple-cache/common';
import type { Exchange, RouteContext } from '../context.js';
import type { RouteResult } from '../retry.js';
import type { Route } from '../route.js';
import { sendStored } from '../respond/send-stored.js';

/** Cache-Status `detail` for hits that are not plain fresh ones (RFC 9211 §2.9). */
const HIT_DETAILS: Readonly<Record<string, string>> = {
  'stale-while-revalidate': 'stale-while-revalidate',
  'request-max-stale': 'max-stale',
  immutable: 'immutable',
};

/**
 * A stored response answers: a fresh one, one the request accepts stale (max-stale), or one
 * within stale-while-revalidate, which also starts one background refresh (RFC 5861 §3). When its
 * body proves unusable (gone, corrupt), the origin is asked for the whole response instead.
 */
export async function serveRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { entry, decision, rule }: Extract<Route, { route: 'serve' }>,
): Promise<RouteResult> {
  exchange.outcome.route = 'serve';
  const updating = decision.action === 'stale-while-revalidate';
  if (updating) ctx.fetches.refresh(exchange, entry);
  // The operator's rule whose ttl made it fresh (chooseRoute named it): in Cache-Status detail (issue 14).
  if (rule !== undefined) exchange.outcome.rule = rule;
  const served = await sendStored(exchange, ctx.deps, entry, {
    xCache: updating ? X_CACHE.updating : X_CACHE.hit,
    status: { hit: true, ttl: decision.ttl, detail: HIT_DETAILS[decision.reason] ?? rule },
    age: decision.age,
    withoutValidation: true,
  });
  if (served === 'forward') return { retry: { kind: 'origin-decides' } };
  if (served === 'unusable') return { retry: { kind: 'refetch', fwd: 'miss' } };
  return exchange.outcome;
}
