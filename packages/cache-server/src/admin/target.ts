import { cacheKey } from '../policy/keys.js';

/**
 * The key an operator means by `input`: a path on the cache (`/img/a.png?v=2`), an absolute URL
 * at the cache (`http://cache:8001/img/a.png`) or at the origin (`http://origin:8000/base/img/a.png`).
 * Normalised exactly as the proxy normalises request targets, so `/a/../b` purges `/b`.
 * Undefined when it is none of these.
 */
export function resolveTarget(origin: string, input: string): string | undefined {
  const text = input.trim();
  if (text.startsWith('/')) return cacheKey(origin, text);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const base = `${origin.replace(/\/+$/, '')}/`;
  // At the origin: the part after the origin's base path is the request target.
  if (url.href.startsWith(base)) return cacheKey(origin, `/${url.href.slice(base.length)}`);
  // Anywhere else (the cache's own address): its path and query are the request target.
  return cacheKey(origin, `${url.pathname}${url.search}`);
}

/** The key without the origin, as operators read it: `http://o:8000/base/a?b` → `/a?b`. */
export function pathOfKey(origin: string, key: string): string {
  const base = origin.replace(/\/+$/, '');
  return key.startsWith(`${base}/`) ? key.slice(base.length) : key;
}
