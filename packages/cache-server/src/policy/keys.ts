import type { EntryMeta, HeaderMap } from './types.js';
import { fieldNameList, readField } from './cache-control.js';
import { canonicalAcceptLanguage } from './accept-language.js';
import { acceptsCoding, negotiateCoding } from './content-coding.js';
import { parseHttpDate } from './http-date.js';

/** Longest request-target accepted, in characters (RFC 9112 §3 recommends at least 8000 octets). */
export const MAX_TARGET_LENGTH = 8192;

/** RFC 3986 §2.3 unreserved characters: percent-encoding them changes nothing. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * The primary cache key (RFC 9111 §2) and the URL the proxy fetches: the request-target resolved
 * at the origin. Only origin-form (`/path?query`, RFC 9112 §3.2.1) is accepted; absolute-form,
 * authority-form and asterisk-form, control characters and overlong targets give undefined.
 *
 * Normalisation (RFC 9110 §4.2.3, RFC 3986 §6.2.2), done so equivalent targets share one entry:
 * - WHATWG URL path parsing: dot segments removed (also `%2e`, `.%2E`), `\` read as `/`, the
 *   fragment dropped, characters that need it percent-encoded;
 * - percent-encoding: hex digits upper-cased (`%7e` → `%7E`, RFC 3986 §6.2.2.1) and encoded
 *   unreserved characters decoded (`%7E` → `~`, §6.2.2.2). Reserved ones stay encoded: `%2F`
 *   is a different resource than `/`;
 * - the query is kept as the URL parser serialises it: its meaning belongs to the origin (and
 *   signed URLs must reach it unchanged); an empty one (a bare `?`) is dropped, as the fetch drops it.
 * The path is resolved on its own, then appended to the origin's base path, so `/../x` or `//host`
 * can never leave the base path or change the host.
 */
export function cacheKey(origin: string, rawTarget: string): string | undefined {
  if (!isOriginForm(rawTarget)) return undefined;
  const base = new URL(origin);
  let target: URL;
  try {
    // A fixed dummy authority: the target can only ever contribute a path and a query.
    target = new URL(`http://x${encodeNonAscii(rawTarget)}`);
  } catch {
    return undefined;
  }
  const basePath = base.pathname.replace(/\/+$/, '');
  return `${base.origin}${basePath}${pathAndQuery(target)}`;
}

/**
 * Normalises an absolute http(s) URL the way `cacheKey` does (used for Location and
 * Content-Location, RFC 9111 §4.4); undefined when it is not an http(s) URL.
 */
export function normalizeUrl(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return `${url.origin}${pathAndQuery(url)}`;
}

/**
 * A Host field value (RFC 9110 §7.2): `uri-host [ ":" port ]` of RFC 3986 §3.2.2–3.2.3, i.e. an
 * IP-literal in brackets, an IPv4 address or a reg-name (unreserved, pct-encoded, sub-delims),
 * then an optional port. Empty is allowed (a target without authority, RFC 9112 §3.2). No `/`,
 * `@`, space or second colon: `evil.example/x@y` is refused (RFC 9112 §3.2: 400).
 */
const URI_HOST_PORT =
  /^(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

export function isValidHost(value: string): boolean {
  return URI_HOST_PORT.test(value);
}

/** What a request target is (RFC 9112 §3.2), and for absolute-form what replaces it. */
export type RequestTarget =
  | { form: 'origin' }
  | { form: 'absolute'; authority: string; originForm: string }
  | { form: 'other' }
  | { form: 'invalid' };

const ABSOLUTE_FORM = /^(https?):\/\/([^/?#]*)(.*)$/i;

/**
 * RFC 9112 §3.2: origin-form (`/path?query`) as is; absolute-form (`http://host:port/path?q`,
 * what clients send to proxies and RFC 9112 §3.2.2 says servers MUST accept) gives its authority,
 * which takes the place of Host, and its path and query as origin-form. An absolute-form that is
 * not http(s), has userinfo (RFC 9110 §4.2.4) or no valid host (§4.2.1: MUST reject) is invalid.
 * Asterisk- and authority-form are `other` (the proxy answers them as before).
 */
export function readRequestTarget(target: string): RequestTarget {
  if (target.startsWith('/')) return { form: 'origin' };
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute === null) return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target) ? { form: 'invalid' } : { form: 'other' };
  const [, , authority = '', rest = ''] = absolute;
  if (authority === '' || authority.startsWith(':') || !isValidHost(authority)) return { form: 'invalid' };
  return { form: 'absolute', authority, originForm: rest.startsWith('/') ? rest : `/${rest}` };
}

/** RFC 9112 §3.2.1: origin-form starts with "/"; anything else is another form or junk. */
function isOriginForm(rawTarget: string): boolean {
  return rawTarget.startsWith('/') && rawTarget.length <= MAX_TARGET_LENGTH && !hasControlOrSpace(rawTarget);
}

/** CTLs, SP and DEL cannot appear in a request-target (RFC 9112 §3.2, RFC 3986 §2). */
function hasControlOrSpace(rawTarget: string): boolean {
  for (let i = 0; i < rawTarget.length; i++) {
    const code = rawTarget.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Path (percent-encoding normalised) and query (as serialised), without the fragment. */
function pathAndQuery(url: URL): string {
  const copy = new URL(url.href);
  copy.hash = '';
  const rest = copy.href.slice(copy.origin.length);
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  // An empty query (`/a?`) is keyed as `/a`: that is what the origin gets asked for (Node's
  // request path is pathname + search, and search is '' for a bare `?`), so two keys for one
  // origin URL would only split its hits and let a purge of `/a` miss `/a?` (FINDINGS F31).
  const query = queryAt === -1 || queryAt === rest.length - 1 ? '' : rest.slice(queryAt);
  return normalizePercentEncoding(path) + query;
}

/** RFC 3986 §6.2.2.1 and §6.2.2.2. */
function normalizePercentEncoding(path: string): string {
  return path.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * Node hands the request line over as latin1 text, one character per byte: bytes ≥ 0x80 are
 * percent-encoded as the bytes they were, not re-encoded as UTF-8 (which would change them).
 */
function encodeNonAscii(rawTarget: string): string {
  return rawTarget.replace(/[\u0080-\u{10ffff}]/gu, (char) => {
    const code = char.codePointAt(0) as number;
    return code <= 0xff ? `%${code.toString(16).toUpperCase().padStart(2, '0')}` : encodeURIComponent(char);
  });
}

/** Every field name the response's Vary lines nominate (RFC 9110 §12.5.5), lower-case, once each. */
export function varyNames(headers: HeaderMap): string[] {
  return fieldNameList(headers, 'vary');
}

/** RFC 9111 §4.1: `Vary: *` always fails to match. */
function hasVaryStar(vary: readonly string[]): boolean {
  return vary.includes('*');
}

/**
 * The secondary key (RFC 9111 §4.1) of a request for a response that varies on `vary`: each
 * nominated field's normalised value (undefined when absent, which differs from empty), and a
 * deterministic string made of them ('' when nothing varies, '*' for `Vary: *`).
 */
export function secondaryKey(
  vary: string[],
  reqHeaders: HeaderMap,
): { variant: string; varyValues: Record<string, string | undefined> } {
  if (vary.length === 0) return { variant: '', varyValues: {} };
  if (hasVaryStar(vary)) return { variant: '*', varyValues: {} };
  const names = [...new Set(vary.map((name) => name.toLowerCase()))].sort();
  const varyValues: Record<string, string | undefined> = {};
  const parts: string[] = [];
  for (const name of names) {
    const value = selectingValue(reqHeaders, name);
    varyValues[name] = value;
    // ':' and ';' are not tchar and encodeURIComponent escapes them: the string is unambiguous.
    parts.push(value === undefined ? name : `${name}:${encodeURIComponent(value)}`);
  }
  return { variant: parts.join(';'), varyValues };
}

/** RFC 9111 §4.1: does the request carry the same selecting header values as the stored one's? */
export function matchesVariant(entry: EntryMeta, reqHeaders: HeaderMap): boolean {
  if (hasVaryStar(entry.vary)) return false;
  return entry.vary.every((name) => selectingValue(reqHeaders, name) === (entry.varyValues[name] ?? undefined));
}

/**
 * RFC 9111 §4 and §4.1: of the stored responses whose variant matches, the most recent one, as
 * determined by Date (seconds); ties go to the one received last.
 */
export function selectVariant(entries: EntryMeta[], reqHeaders: HeaderMap): EntryMeta | undefined {
  let best: EntryMeta | undefined;
  for (const entry of entries) {
    if (!matchesVariant(entry, reqHeaders)) continue;
    if (best === undefined || isMoreRecent(entry, best)) best = entry;
  }
  return best;
}

function isMoreRecent(a: EntryMeta, b: EntryMeta): boolean {
  const dateA = generatedAt(a);
  const dateB = generatedAt(b);
  return dateA !== dateB ? dateA > dateB : a.responseTime > b.responseTime;
}

function generatedAt(entry: EntryMeta): number {
  return parseHttpDate(readField(entry.headers, 'date')) ?? entry.responseTime;
}

/**
 * A selecting header's value normalised as RFC 9111 §4.1 allows: field lines combined (RFC 9110
 * §5.3), whitespace around list commas and at the ends removed, empty list members dropped (RFC
 * 9110 §5.6.1), inner whitespace runs collapsed; plus what the field's own definition makes
 * equivalent (case of Accept-* tokens and language tags, order of Accept-Encoding members, the
 * order of preference of a valid Accept-Language: accept-language.ts).
 */
function selectingValue(headers: HeaderMap, name: string): string | undefined {
  // Accept-Encoding selects by the coding the cache would serve (content-coding.ts): br, gzip or
  // identity. Requests that would get the same bytes share a variant, whatever else they list.
  if (name === 'accept-encoding') return negotiateCoding(headers);
  const raw = headers[name];
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return undefined;
  if (name === 'accept-language') {
    const canonical = canonicalAcceptLanguage(Array.isArray(raw) ? raw.join(',') : raw);
    if (canonical !== undefined) return canonical;
  }
  const members = splitList(Array.isArray(raw) ? raw.join(',') : raw)
    .map(collapseWhitespace)
    .filter((member) => member !== '');
  const normalized = CASE_INSENSITIVE_FIELDS.has(name) ? members.map((member) => member.toLowerCase()) : members;
  if (UNORDERED_FIELDS.has(name)) normalized.sort();
  return normalized.join(',');
}

/** Fields whose values are case-insensitive (codings RFC 9110 §8.4.1, charsets §8.3.2, language tags RFC 5646 §2.1.1). */
const CASE_INSENSITIVE_FIELDS = new Set(['accept-encoding', 'accept-charset', 'accept-language']);

/**
 * Fields where member order means nothing (RFC 9110 §12.5.3: preference is given by qvalues).
 * Not Accept-Language: RFC 9110 §12.5.4 notes recipients may treat its order as a priority
 * (canonicalAcceptLanguage keeps the order where it can matter).
 */
const UNORDERED_FIELDS = new Set(['accept-encoding']);

/** Splits on commas outside quoted strings (RFC 9110 §5.6.4). */
function splitList(value: string): string[] {
  const members: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      members.push(value.slice(start, i));
      start = i + 1;
    }
  }
  members.push(value.slice(start));
  return members;
}

function collapseWhitespace(member: string): string {
  return member.trim().replace(/[ \t]+/g, ' ');
}

/**
 * Request headers for a fetch whose response may be stored, with a valid Accept-Language in its
 * canonical form (accept-language.ts) and Accept-Encoding as the one coding the request
 * negotiates (content-coding.ts; `request` is the client's request, whose Range counts): every
 * request that will share the variant then asks the origin the very same question. Other fields
 * are left as the client sent them.
 */
export function withCanonicalSelectingFields(headers: HeaderMap, request: HeaderMap = headers): HeaderMap {
  let out = headers;
  const language = headers['accept-language'];
  const canonical =
    language === undefined
      ? undefined
      : canonicalAcceptLanguage(Array.isArray(language) ? language.join(',') : language);
  if (canonical !== undefined) out = { ...out, 'accept-language': canonical };
  if (headers['accept-encoding'] !== undefined) out = { ...out, 'accept-encoding': negotiateCoding(request) };
  return out;
}

/**
 * RFC 9111 §4.1, with the cache's own negotiation of content codings: when no stored variant
 * matches a request that negotiates br or gzip only because the cache's compressed copy is
 * missing (evicted, being made, or not smaller), the identity variant the cache split from it
 * serves, as long as the client takes identity (RFC 9110 §12.5.3). The cache made both, so it
 * knows they carry the same content; it tells its own split by the stored Vary, which does not
 * name Accept-Encoding (stored-codings.ts). A response the origin varied on Accept-Encoding
 * itself is selected strictly.
 */
export function selectVariantOrIdentity(entries: EntryMeta[], reqHeaders: HeaderMap): EntryMeta | undefined {
  const selected = selectVariant(entries, reqHeaders);
  if (selected !== undefined || negotiateCoding(reqHeaders) === 'identity') return selected;
  if (!acceptsCoding(reqHeaders, undefined)) return undefined;
  const split = entries.filter((entry) => !fieldNameList(entry.headers, 'vary').includes('accept-encoding'));
  return selectVariant(split, { ...reqHeaders, 'accept-encoding': 'identity' });
}
