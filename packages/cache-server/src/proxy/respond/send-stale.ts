import type { CacheStatusInfo, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { ERRORS } from '../../errors.js';
import { decideUse } from '../../policy/index.js';
import { policyFor, type Exchange, type ProxyDeps } from '../context.js';
import { sendError } from './send-error.js';
import { sendStored } from './send-stored.js';

/**
 * Serves a stale entry because the origin failed and chooseRoute() allowed it (routes/serve-stale.ts;
 * X-Cache STALE, Cache-Status says why); its body gone, the catalogue's 502. 'forward' as sendStored's.
 */
export async function sendStale(
  exchange: Exchange,
  deps: ProxyDeps,
  stale: EntryMeta,
  status: CacheStatusInfo,
): Promise<'served' | 'forward'> {
  const decision = decideUse(exchange.view, stale, Date.now(), policyFor(exchange, stale.status));
  const served = await sendStored(exchange, deps, stale, {
    xCache: X_CACHE.stale,
    status: { ...status, ttl: Math.floor(decision.ttl) },
    age: decision.age,
    withoutValidation: true,
  });
  if (served === 'unusable') sendError(exchange, deps, ERRORS.originBadResponse, undefined, status);
  return served === 'forward' ? 'forward' : 'served';
}
