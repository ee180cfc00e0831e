import { X_CACHE } from '@simple-cache/common';
import type { Exchange, RouteContext } from '../context.js';
import type { RouteResult } from '../retry.js';
import type { Route } from '../route.js';
import { sendParts } from '../respond/send-parts.js';

/**
 * A GET's Range lies wholly inside fresh stored parts (RFC 9111 §3.3): answered from them, a
 * 206 (or multipart/byteranges, or 416) cut from the complete response the parts are of. When a
 * part's body proves unusable (gone, corrupt) the origin is asked instead.
 */
export async function servePartsRoute(
  ctx: RouteContext,
  exchange: Exchange,
  { held, decision }: Extract<Route, { route: 'serve-parts' }>,
): Promise<RouteResult> {
  exchange.outcome.route = 'serve-parts';
  const served = await sendParts(exchange, ctx.deps, held, {
    xCache: X_CACHE.hit,
    status: { hit: true, ttl: decision.ttl, detail: 'partial' },
    age: decision.age,
    withoutValidation: true,
  });
  if (served === 'forward') return { retry: { kind: 'origin-decides' } };
  if (served === 'unusable') return { retry: { kind: 'refetch', fwd: 'miss' } };
  return exchange.outcome;
}
