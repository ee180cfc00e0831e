import { parseCacheControl, readField, type Directives } from './cache-control.js';
import { parseSurrogateControl } from './surrogate-control.js';
import { parseTargetedField } from './targeted-field.js';
import type { HeaderMap, PolicyOptions } from './types.js';

/** What decides which response field governs this cache: the targeted field's name and the cache's name. */
export type ControlFields = Pick<PolicyOptions, 'targetedField' | 'cacheName'>;

/** The field whose directives this cache obeys for a response. */
export type ControlSource = 'targeted-field' | 'surrogate-control' | 'cache-control';

/**
 * The directives this cache obeys for a response, and where they come from. First match wins:
 * 1. the targeted field (`--targeted-field`, CDN-Cache-Control by default), when it is a valid,
 *    non-empty Dictionary (RFC 9213 §2.1; an invalid or empty one is ignored, §2.2);
 * 2. Surrogate-Control, when any valid directive in it applies to this cache (W3C Edge
 *    Architecture 1.0, see surrogate-control.ts);
 * 3. Cache-Control.
 * Either of the first two replaces Cache-Control AND Expires (see `ignoresExpires`).
 */
export function responseControl(
  headers: HeaderMap,
  fields: ControlFields,
): { source: ControlSource; directives: Directives } {
  const targeted = targetedDirectives(headers, fields.targetedField);
  if (targeted !== undefined) return { source: 'targeted-field', directives: targeted };
  // A targeted field configured as Surrogate-Control is read as a Dictionary, above, and only so.
  const surrogate =
    fields.targetedField === 'surrogate-control'
      ? undefined
      : parseSurrogateControl(headers['surrogate-control'], fields.cacheName);
  if (surrogate !== undefined) return { source: 'surrogate-control', directives: surrogate };
  return { source: 'cache-control', directives: parseCacheControl(headers['cache-control']) };
}

/** The directives this cache obeys for a response (see `responseControl`). */
export function responseDirectives(headers: HeaderMap, fields: ControlFields): Directives {
  return responseControl(headers, fields).directives;
}

/**
 * The directives that govern a response for this request's options: none at all when a rule
 * forces its ttl (`force`: the operator overrides the origin's Cache-Control, targeted field and
 * Surrogate-Control, nginx's `proxy_ignore_headers Cache-Control`), else `responseDirectives`.
 */
export function governingDirectives(headers: HeaderMap, opts: ControlFields & { force?: boolean }): Directives {
  return opts.force === true ? NO_DIRECTIVES : responseDirectives(headers, opts);
}

const NO_DIRECTIVES: Directives = new Map();

/** True when a field other than Cache-Control governs the response, so Expires is ignored too (RFC 9213 §2.1). */
export function ignoresExpires(headers: HeaderMap, fields: ControlFields): boolean {
  return responseControl(headers, fields).source !== 'cache-control';
}

function targetedDirectives(headers: HeaderMap, targetedField: string): Directives | undefined {
  if (targetedField === '' || targetedField === 'cache-control') return undefined;
  const value = readField(headers, targetedField);
  if (value === undefined) return undefined;
  const parsed = parseTargetedField(value);
  return parsed !== undefined && parsed.size > 0 ? parsed : undefined;
}
