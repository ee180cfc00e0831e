import type { CacheStatusInfo } from '@simple-cache/common';
import type { UseDecision } from './types.js';

/** RFC 8941 §3.3.4 sf-token: starts with ALPHA or "*", then tchar, ":" or "/". */
const SF_TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;

/** RFC 8941 §3.3.1: Integers have at most 15 digits. */
const SF_INTEGER_MAX = 999_999_999_999_999;

/**
 * This cache's member of the Cache-Status field (RFC 9211 §2): the cache's name, then its
 * parameters in a fixed order — hit, fwd, fwd-status, ttl, stored, collapsed, key, detail.
 * Booleans appear bare when true and not at all when false (RFC 8941 §3.1.2); ttl is whole
 * seconds and may be negative (§2.5: stale); detail is a Token when it can be, else a String.
 */
export function formatCacheStatus(name: string, info: CacheStatusInfo): string {
  const params: string[] = [];
  if (info.hit === true) params.push('hit');
  if (info.fwd !== undefined) params.push(`fwd=${info.fwd}`);
  if (info.fwdStatus !== undefined && Number.isInteger(info.fwdStatus)) {
    params.push(`fwd-status=${serializeInteger(info.fwdStatus)}`);
  }
  if (info.ttl !== undefined && Number.isFinite(info.ttl)) params.push(`ttl=${serializeInteger(Math.floor(info.ttl))}`);
  if (info.stored === true) params.push('stored');
  if (info.collapsed === true) params.push('collapsed');
  if (info.key !== undefined) params.push(`key=${serializeString(info.key)}`);
  if (info.detail !== undefined) params.push(`detail=${serializeTokenOrString(info.detail)}`);
  return [serializeTokenOrString(name), ...params].join('; ');
}

/** `decideUse` reasons that come from the request's own directives (RFC 9111 §5.2.1). */
const REQUEST_REASONS: ReadonlySet<string> = new Set(['request-no-cache', 'request-max-age', 'request-min-fresh']);

/**
 * Why a stored response the cache selected was not used and the request went forward (RFC 9211
 * §2.2): `request` when it was fresh but the request's directives (no-cache, max-age,
 * min-fresh) ruled it out; `stale` otherwise, including a response whose own no-cache demands
 * validation (RFC 9111 §5.2.2.4 treats it as never fresh enough to serve unvalidated).
 */
export function forwardReasonFor(decision: Pick<UseDecision, 'reason' | 'ttl'>): 'request' | 'stale' {
  return REQUEST_REASONS.has(decision.reason) && decision.ttl > 0 ? 'request' : 'stale';
}

/**
 * RFC 9211 §2: each cache appends its member after those of the caches (and origin) before it,
 * so the list reads from the origin towards the client. Several field lines form one list.
 */
export function appendCacheStatus(existing: string | string[] | undefined, member: string): string {
  const lines = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  const list = lines.map((line) => line.trim().replace(/^[\s,]+|[\s,]+$/g, '')).filter((line) => line !== '');
  return [...list, member].join(', ');
}

function serializeTokenOrString(value: string): string {
  return SF_TOKEN.test(value) ? value : serializeString(value);
}

/** RFC 8941 §4.1.6: printable ASCII only, `\` and `"` escaped; other characters become `?`. */
function serializeString(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function serializeInteger(value: number): string {
  return String(Math.max(-SF_INTEGER_MAX, Math.min(SF_INTEGER_MAX, value)));
}
