import type { ResponseView } from './types.js';
import { normalizeUrl } from './keys.js';

/** RFC 9110 §9.2.1: the safe methods. Anything else, unknown methods included, is unsafe. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Keys to invalidate after a request went through to the origin (RFC 9111 §4.4): when an unsafe
 * method (method names are case-sensitive, RFC 9110 §9.1) got a non-error response (2xx, 3xx),
 * the target's key, plus the Location and Content-Location URLs resolved against it — those
 * only when they share the target's origin (scheme, host, port), against denial of service.
 * Each is normalised like `cacheKey`, and listed once.
 */
export function invalidationTargets(method: string, key: string, res: ResponseView): string[] {
  if (!isUnsafeMethod(method) || !isNonErrorStatus(res.status)) return [];
  const targets = new Set([key]);
  const keyOrigin = new URL(key).origin;
  for (const field of ['location', 'content-location']) {
    const url = resolveReference(firstLine(res.headers[field]), key);
    if (url === undefined || url.origin !== keyOrigin) continue;
    const normalized = normalizeUrl(url);
    if (normalized !== undefined) targets.add(normalized);
  }
  return [...targets];
}

function isUnsafeMethod(method: string): boolean {
  return !SAFE_METHODS.has(method);
}

/** RFC 9111 §4.4: "non-error status code", i.e. 2xx or 3xx. */
function isNonErrorStatus(status: number): boolean {
  return status >= 200 && status < 400;
}

function resolveReference(value: string | undefined, base: string): URL | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  try {
    return new URL(value.trim(), base);
  } catch {
    return undefined;
  }
}

/** Location and Content-Location are singletons: a second line is ignored. */
function firstLine(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
