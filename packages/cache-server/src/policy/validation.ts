import type { EntryMeta, HeaderMap, RequestView, ResponseView } from './types.js';
import { DEFAULT_CACHE_NAME, DEFAULT_TARGETED_FIELD } from './types.js';
import { readField } from './cache-control.js';
import type { ControlFields } from './response-control.js';
import { parseHttpDate } from './http-date.js';
import { storedResponseHeaders, stripHopByHop } from './headers.js';

/** For callers that built no PolicyOptions (tests): the default targeted field and cache name. */
const DEFAULT_CONTROL_FIELDS: ControlFields = { targetedField: DEFAULT_TARGETED_FIELD, cacheName: DEFAULT_CACHE_NAME };

/** An entity tag (RFC 9110 §8.8.3) split into its weakness flag and its opaque-tag (quotes included). */
interface EntityTag {
  weak: boolean;
  opaque: string;
}

/**
 * Fields that describe the bytes of the stored body: its length, coding, range and digests. A 304
 * or a 200 to a HEAD freshens every other field of a stored response but never these (RFC 9111
 * §3.2: the cache MUST NOT update Content-Length, and leaves out "the fields the stored response
 * depends upon" to "assure integrity"): the body is still the one they describe, and a new value
 * would make later hits announce a length, coding or digest (Content-MD5, RFC 3230 Digest,
 * RFC 9530 Content-Digest / Repr-Digest) the body does not have. Transfer-Encoding is hop-by-hop
 * and never stored in the first place.
 */
export const BODY_DESCRIBING_FIELDS: readonly string[] = [
  'content-length',
  'content-encoding',
  'content-range',
  'transfer-encoding',
  'content-md5',
  'digest',
  'content-digest',
  'repr-digest',
];

const KEPT_ON_UPDATE = new Set(BODY_DESCRIBING_FIELDS);

/**
 * Left out of every 304 the cache writes for a client's conditional request (RFC 9110 §15.4.5: a
 * 304 carries the validators and caching fields, and SHOULD NOT carry other representation
 * metadata): what describes the body it does not send, and Content-Type. One list for a 304 from a
 * stored response and one from a response just fetched.
 */
export const FIELDS_LEFT_OUT_OF_NOT_MODIFIED: readonly string[] = [...BODY_DESCRIBING_FIELDS, 'content-type'];

/** The head of a 304 the cache answers a client with, from the 200's head it would have sent. */
export function notModifiedHead(headers: HeaderMap): HeaderMap {
  const head: HeaderMap = { ...headers };
  for (const name of FIELDS_LEFT_OUT_OF_NOT_MODIFIED) delete head[name];
  return head;
}

/**
 * Validators for a conditional request revalidating `entry` (RFC 9111 §4.3.1): If-None-Match
 * from ETag (MUST) and If-Modified-Since from Last-Modified (SHOULD, when valid). Empty when the
 * stored response has no validator.
 */
export function conditionalHeaders(entry: EntryMeta): HeaderMap {
  const headers: HeaderMap = {};
  const etag = firstLine(entry.headers.etag);
  if (etag !== undefined && etag.trim() !== '') headers['if-none-match'] = etag.trim();
  const lastModified = firstLine(entry.headers['last-modified']);
  if (lastModified !== undefined && parseHttpDate(lastModified) !== undefined) {
    headers['if-modified-since'] = lastModified.trim();
  }
  return headers;
}

/**
 * Does this 304 apply to `entry`? RFC 9111 §4.3.4, first rule that applies:
 * - a strong ETag in the 304 selects stored responses with the same strong ETag;
 * - else a weak ETag or a Last-Modified selects those whose validator matches (weakly);
 * - else (no validator at all) it applies to the response we just validated.
 * The last rule is looser than §4.3.4 (which wants the stored response to lack validators too):
 * the caller only asks about the one entry it sent the validators of.
 */
export function notModifiedMatches(entry: EntryMeta, res: ResponseView): boolean {
  const newTag = parseEntityTag(firstLine(res.headers.etag));
  const storedTag = parseEntityTag(firstLine(entry.headers.etag));
  if (newTag !== undefined) {
    if (storedTag === undefined) return false;
    return newTag.weak ? tagsMatchWeakly(newTag, storedTag) : tagsMatchStrongly(newTag, storedTag);
  }
  const newDate = parseHttpDate(firstLine(res.headers['last-modified']));
  if (newDate !== undefined) return newDate === parseHttpDate(firstLine(entry.headers['last-modified']));
  return true;
}

/**
 * The stored response freshened by a 304 (RFC 9111 §4.3.4, §3.2): every field of the 304
 * replaces the stored one, except hop-by-hop fields and BODY_DESCRIBING_FIELDS (length, coding,
 * range, digests of the stored body); request/response times become the
 * validation's, so age restarts from the 304's Date/Age. Call `notModifiedMatches` first.
 */
export function freshenWithNotModified(
  entry: EntryMeta,
  res: ResponseView,
  requestTime: number,
  responseTime: number,
  fields: ControlFields = DEFAULT_CONTROL_FIELDS,
): EntryMeta {
  const headers = mergeHeaders(entry.headers, res.headers, responseTime, fields);
  return { ...entry, headers, requestTime, responseTime };
}

/**
 * RFC 9111 §4.3.5: a 200 to a HEAD updates the stored GET response like a 304 does, provided
 * every validator it carries (ETag, Last-Modified) matches the stored one and its Content-Length,
 * when present, equals the stored body's. Undefined when they differ: the stored response is
 * outdated and the caller invalidates it. Any other status leaves the entry as it was.
 */
export function freshenWithHead(
  entry: EntryMeta,
  res: ResponseView,
  requestTime: number,
  responseTime: number,
  fields: ControlFields = DEFAULT_CONTROL_FIELDS,
): EntryMeta | undefined {
  if (res.status !== 200) return entry;
  if (!headDescribesStored(entry, res.headers)) return undefined;
  return freshenWithNotModified(entry, res, requestTime, responseTime, fields);
}

function headDescribesStored(entry: EntryMeta, head: HeaderMap): boolean {
  const headTag = firstLine(head.etag);
  if (headTag !== undefined && !sameEntityTag(headTag, firstLine(entry.headers.etag))) return false;
  const headModified = firstLine(head['last-modified']);
  if (headModified !== undefined && !sameDate(headModified, firstLine(entry.headers['last-modified']))) return false;
  const headLength = firstLine(head['content-length']);
  return headLength === undefined || headLength.trim() === String(storedLength(entry));
}

function storedLength(entry: EntryMeta): number | string {
  return firstLine(entry.headers['content-length'])?.trim() ?? entry.size;
}

function sameEntityTag(a: string, b: string | undefined): boolean {
  const tagA = parseEntityTag(a);
  const tagB = parseEntityTag(b);
  return tagA !== undefined && tagB !== undefined && tagA.weak === tagB.weak && tagA.opaque === tagB.opaque;
}

function sameDate(a: string, b: string | undefined): boolean {
  const dateA = parseHttpDate(a);
  return dateA !== undefined && dateA === parseHttpDate(b);
}

function mergeHeaders(stored: HeaderMap, update: HeaderMap, responseTime: number, fields: ControlFields): HeaderMap {
  const merged: HeaderMap = { ...stored };
  // Age and Date describe the validating response now (RFC 9111 §4.2.3): a stale Age left over
  // would age the freshened entry at once; a missing Date is the time received (RFC 9110 §6.6.1).
  delete merged.age;
  merged.date = new Date(responseTime).toUTCString();
  for (const [name, value] of Object.entries(stripHopByHop(update))) {
    if (value === undefined || KEPT_ON_UPDATE.has(name)) continue;
    merged[name] = value;
  }
  // Re-applies private="…" (RFC 9111 §5.2.2.7) with the directives the update may have changed.
  return storedResponseHeaders(merged, fields);
}

/**
 * How a cache answers a client's conditional GET/HEAD from the stored response it selected
 * (RFC 9111 §4.3.2, RFC 9110 §13.2.2):
 * - 'forward': the request has If-Match or If-Unmodified-Since, which "are not applicable to a
 *   cache" (RFC 9111 §4.3.2): the origin must evaluate them, so the request goes there;
 * - 'not-modified': If-None-Match (weak comparison, `*`) or, only without it, If-Modified-Since
 *   (one valid HTTP-date, compared with Last-Modified, else Date, else the time received) is false;
 * - undefined: serve the stored response as usual.
 * Preconditions are ignored for other methods and for stored responses that are not 2xx (RFC 9110
 * §13.2.1: the unconditional answer would not have been 2xx).
 */
export function evaluateClientConditional(req: RequestView, entry: EntryMeta): 'not-modified' | 'forward' | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  if (entry.status < 200 || entry.status > 299) return undefined;
  if (hasOriginOnlyPrecondition(req.headers)) return 'forward';
  const ifNoneMatch = readField(req.headers, 'if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '') {
    return noneMatchIsFalse(ifNoneMatch, entry) ? 'not-modified' : undefined;
  }
  // An rfc850 two-digit year is read relative to when the response arrived (RFC 9110 §5.6.7).
  const since = parseHttpDate(readField(req.headers, 'if-modified-since'), entry.responseTime);
  if (since !== undefined && lastModifiedOf(entry) <= since) return 'not-modified';
  return undefined;
}

/** RFC 9111 §4.3.2: If-Match and If-Unmodified-Since are for the origin, not for a cache. */
export function hasOriginOnlyPrecondition(headers: HeaderMap): boolean {
  return headers['if-match'] !== undefined || headers['if-unmodified-since'] !== undefined;
}

/** RFC 9110 §13.1.2: false when `*` (we hold a representation) or when any tag matches weakly. */
function noneMatchIsFalse(ifNoneMatch: string, entry: EntryMeta): boolean {
  const tags = parseEtagList(ifNoneMatch);
  if (tags.includes('*')) return true;
  const stored = firstLine(entry.headers.etag);
  return stored !== undefined && tags.some((tag) => weakMatch(tag, stored));
}

/** RFC 9111 §4.3.2: Last-Modified, else the stored Date, else when the response was received. */
function lastModifiedOf(entry: EntryMeta): number {
  return (
    parseHttpDate(firstLine(entry.headers['last-modified'])) ??
    parseHttpDate(firstLine(entry.headers.date)) ??
    entry.responseTime
  );
}

/** RFC 9110 §8.8.3.2 strong comparison: both strong, same opaque-tag. */
export function strongMatch(a: string, b: string): boolean {
  const tagA = parseEntityTag(a);
  const tagB = parseEntityTag(b);
  return tagA !== undefined && tagB !== undefined && tagsMatchStrongly(tagA, tagB);
}

/** RFC 9110 §8.8.3.2 weak comparison: same opaque-tag, weakness ignored. */
export function weakMatch(a: string, b: string): boolean {
  const tagA = parseEntityTag(a);
  const tagB = parseEntityTag(b);
  return tagA !== undefined && tagB !== undefined && tagsMatchWeakly(tagA, tagB);
}

function tagsMatchStrongly(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

function tagsMatchWeakly(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/**
 * The members of an If-Match / If-None-Match value (RFC 9110 §13.1.1: `*` or 1#entity-tag),
 * trimmed, empty ones dropped. Commas inside a quoted opaque-tag do not split it (etagc allows ',').
 */
export function parseEtagList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(', ') : value;
  const tags: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (i === text.length || (c === ',' && !quoted)) {
      const tag = text.slice(start, i).trim();
      if (tag !== '') tags.push(tag);
      start = i + 1;
    }
  }
  return tags;
}

/**
 * RFC 9110 §8.8.3: `W/` (case-sensitive) marks a weak tag. A value that is not a quoted string
 * is kept whole as its own opaque-tag, so malformed tags still match only themselves.
 */
function parseEntityTag(value: string | undefined): EntityTag | undefined {
  const text = value?.trim();
  if (text === undefined || text === '' || text === '*') return undefined;
  const weak = text.startsWith('W/');
  return { weak, opaque: weak ? text.slice(2) : text };
}

function firstLine(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
