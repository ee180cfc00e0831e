import type { CacheStatusForward, CacheStatusInfo, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { ERRORS, type CacheError } from '../../errors.js';
import { decideUse, mayServeStaleOnError, type OriginFailure } from '../../policy/index.js';
import { policyFor, type Exchange, type ProxyDeps } from '../context.js';
import { sendError } from './send-error.js';
import { sendStored } from './send-stored.js';

/**
 * No response from the origin: the stale entry answers when the policy allows it for this failure
 * (unreachable or timed out: disconnected, RFC 9111 §4.2.4; anything else like an error status,
 * RFC 5861 §4), else the catalogue's 502/504. Cache-Status has no fwd-status: nothing answered.
 * 'forward' when the stale entry may only be served by the origin's judgement (nothing sent).
 */
export async function sendStaleOrError(
  exchange: Exchange,
  deps: ProxyDeps,
  stale: EntryMeta | undefined,
  failure: CacheError,
  fwd: CacheStatusForward,
): Promise<'served' | 'forward'> {
  if (
    stale &&
    mayServeStaleOnError(exchange.view, stale, Date.now(), policyFor(exchange, stale.status), failureKind(failure))
  ) {
    exchange.log.warn({ code: failure.code, key: exchange.key }, 'origin failed; serving stale');
    return sendStale(exchange, deps, stale, { fwd, detail: failure.code });
  }
  sendError(exchange, deps, failure, failure.cause, { fwd });
  return 'served';
}

/**
 * The origin answered with a 5xx: the stale entry answers instead when stale-if-error (or a
 * rule's window) allows it (RFC 5861 §4), with the origin's status in Cache-Status. undefined
 * when it may not (nothing sent: the origin's answer is relayed).
 */
export async function sendStaleOnErrorStatus(
  exchange: Exchange,
  deps: ProxyDeps,
  stale: EntryMeta | undefined,
  status: number,
  fwd: CacheStatusForward,
): Promise<'served' | 'forward' | undefined> {
  if (
    !stale ||
    status < 500 ||
    !mayServeStaleOnError(exchange.view, stale, Date.now(), policyFor(exchange, stale.status), 'error-status')
  ) {
    return undefined;
  }
  return sendStale(exchange, deps, stale, { fwd, fwdStatus: status, detail: `origin-status-${status}` });
}

/** Refused, reset, unresolvable or silent: the cache is disconnected. A response it could not read is not. */
function failureKind(failure: CacheError): OriginFailure {
  const disconnected = failure.code === ERRORS.originUnreachable.code || failure.code === ERRORS.originTimeout.code;
  return disconnected ? 'disconnected' : 'error-status';
}

/**
 * Serves a stale entry because the origin failed (X-Cache STALE; Cache-Status says why); its
 * body gone, the catalogue's 502. 'forward' as sendStored's.
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
