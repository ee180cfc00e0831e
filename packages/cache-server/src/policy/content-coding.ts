import { fieldNameList, parseCacheControl, readField } from './cache-control.js';
import type { HeaderMap } from './types.js';

/**
 * Content codings (RFC 9110 §8.4) the cache negotiates with clients: which representation of a
 * compressible response a request gets (br, gzip or identity), whether a response may be
 * compressed at all, and what a compressed copy's fields become. Pure: the compression itself is
 * proxy/respond/compress.ts's.
 */

/** Codings the cache stores besides identity, in its order of preference when qvalues tie. */
export const STORED_CODINGS = ['br', 'gzip'] as const;
export type StoredCoding = (typeof STORED_CODINGS)[number];
export type Coding = StoredCoding | 'identity';

/** The field whose value the stored copies of one response differ by. */
export const ACCEPT_ENCODING = 'accept-encoding';

/** Codings we can decode for a client that does not accept them (RFC 9110 §8.4.1). */
const DECODABLE = new Set(['gzip', 'x-gzip', 'br', 'deflate']);

/**
 * The request's Accept-Encoding as coding → qvalue (RFC 9110 §12.5.3, §12.4.2), lower-case,
 * `x-gzip` read as `gzip` (§8.4.1.3); undefined when the field is absent.
 */
export function acceptedCodings(headers: HeaderMap): Map<string, number> | undefined {
  const value = readField(headers, ACCEPT_ENCODING);
  if (value === undefined) return undefined;
  const codings = new Map<string, number>();
  for (const member of value.split(',')) {
    const [name = '', ...params] = member.split(';').map((part) => part.trim());
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) continue;
    let q = 1;
    for (const param of params) {
      const match = /^q\s*=\s*([01](\.\d{0,3})?)$/i.exec(param);
      if (match) q = Math.min(1, Number(match[1]));
    }
    const coding = name.toLowerCase() === 'x-gzip' ? 'gzip' : name.toLowerCase();
    // The first mention of a coding counts (a repeat is a client bug).
    if (!codings.has(coding)) codings.set(coding, q);
  }
  return codings;
}

/** The qvalue `coding` gets: its own, else `*`'s, else 0; identity is acceptable unless excluded (§12.5.3). */
function qualityOf(codings: Map<string, number>, coding: string): number {
  const own = codings.get(coding);
  if (own !== undefined) return own;
  const star = codings.get('*');
  if (star !== undefined) return star;
  return coding === 'identity' ? 1 : 0;
}

/**
 * Which stored representation a request gets: the stored coding it accepts with the highest
 * qvalue (br before gzip on a tie), else identity. Without Accept-Encoding, identity: RFC 9110
 * §12.5.3 would allow any coding, but clients that send none (curl, scripts) expect none, and no
 * server sends them one. A request with Range gets identity: ranges are cut from the identity
 * body, whose bytes are the same for every client (a range of a compressed body depends on the
 * compressor; RFC 9110 §14.1.2 counts ranges over the selected representation). A request that
 * says `Cache-Control: no-transform` gets identity too: it asks intermediaries not to transform
 * the content (RFC 9111 §5.2.1.6), and a br or gzip copy the cache made is one (RFC 9110 §7.7).
 */
export function negotiateCoding(headers: HeaderMap): Coding {
  if (headers.range !== undefined) return 'identity';
  if (parseCacheControl(headers['cache-control']).has('no-transform')) return 'identity';
  const codings = acceptedCodings(headers);
  if (codings === undefined) return 'identity';
  let best: Coding = 'identity';
  let bestQ = 0;
  for (const coding of STORED_CODINGS) {
    const q = qualityOf(codings, coding);
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  return best;
}

/**
 * Whether the client takes a body in `coding` (a response's Content-Encoding, possibly a list of
 * codings applied in order). Identity (no coding) unless it said `identity;q=0`; any other coding
 * only when listed (or `*`) with a qvalue above 0.
 */
export function acceptsCoding(headers: HeaderMap, contentEncoding: string | undefined): boolean {
  const applied = codingsApplied(contentEncoding);
  const codings = acceptedCodings(headers);
  if (applied.length === 0) return codings === undefined || qualityOf(codings, 'identity') > 0;
  if (codings === undefined) return false;
  return applied.every((coding) => qualityOf(codings, coding) > 0);
}

/** A response's Content-Encoding as the list of codings applied, lower-case, identity left out. */
export function codingsApplied(contentEncoding: string | undefined): string[] {
  if (contentEncoding === undefined) return [];
  return contentEncoding
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .map((coding) => (coding === 'x-gzip' ? 'gzip' : coding))
    .filter((coding) => coding !== '' && coding !== 'identity');
}

/** A Content-Encoding the cache can undo on the fly (one coding it knows). */
export function isDecodable(contentEncoding: string | undefined): boolean {
  const applied = codingsApplied(contentEncoding);
  return applied.length === 1 && DECODABLE.has(applied[0] as string);
}

/** What the cache compresses: media types (`text/*`, `application/json`, `*\/*+xml`) and a minimum size. */
export interface CompressionOptions {
  enabled: boolean;
  types: readonly string[];
  minSize: number;
}

export type CompressionDecision = { compress: true } | { compress: false; reason: string };

/**
 * Whether the cache compresses a response it is about to store: a 200 (or 203) whose body has
 * no content coding yet, of a listed type, not below the minimum size (an unknown length is
 * compressed: it is often large), that does not forbid transformation (RFC 9110 §7.7, RFC 9111
 * §5.2.2.6 no-transform) and does not vary on everything.
 */
export function decideCompression(
  response: { status: number; headers: HeaderMap },
  options: CompressionOptions,
): CompressionDecision {
  if (!options.enabled) return { compress: false, reason: 'off' };
  if (response.status !== 200 && response.status !== 203) return { compress: false, reason: 'status' };
  if (codingsApplied(readField(response.headers, 'content-encoding')).length > 0) {
    return { compress: false, reason: 'already-encoded' };
  }
  if (readField(response.headers, 'content-range') !== undefined) return { compress: false, reason: 'partial' };
  if (!isCompressibleType(readField(response.headers, 'content-type'), options.types)) {
    return { compress: false, reason: 'type' };
  }
  const length = Number(readField(response.headers, 'content-length') ?? NaN);
  if (Number.isFinite(length) && length < options.minSize) return { compress: false, reason: 'small' };
  if (parseCacheControl(response.headers['cache-control']).has('no-transform'))
    return { compress: false, reason: 'no-transform' };
  if (fieldNameList(response.headers, 'vary').includes('*')) return { compress: false, reason: 'vary-star' };
  return { compress: true };
}

/** Does the media type (parameters ignored) match one of `types` (`type/subtype`, `type/*`, `*\/*+suffix`)? */
export function isCompressibleType(contentType: string | undefined, types: readonly string[]): boolean {
  if (contentType === undefined) return false;
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  const [type, subtype] = mediaType.split('/');
  if (!type || !subtype) return false;
  return types.some((pattern) => {
    const [want = '', wantSub = ''] = pattern.toLowerCase().split('/');
    if (wantSub === '*') return want === type;
    if (want === '*' && wantSub.startsWith('*+')) return subtype.endsWith(wantSub.slice(1));
    return want === type && wantSub === subtype;
  });
}

/**
 * The entity tag of a representation the cache transformed (RFC 9110 §8.8.3: a strong tag
 * promises byte-for-byte equality, which a compressed copy of the body breaks): made weak, as
 * nginx's gzip does. Weak ones stay as they are; If-None-Match compares weakly (§13.1.2), so a
 * client holding any representation of the same content still gets its 304.
 */
export function weakenEntityTag(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  const trimmed = etag.trim();
  return trimmed.startsWith('W/') || !trimmed.startsWith('"') ? trimmed : `W/${trimmed}`;
}

/**
 * A stored response selected by its content coding (the cache's br or gzip copy, or an origin's
 * coded variant of a response that varies on Accept-Encoding): no Range ever selects it, since a
 * request with Range negotiates identity (negotiateCoding), so its responses offer no ranges
 * (RFC 9110 §14.3), as nginx's gzip drops Accept-Ranges.
 */
export function isSelectedByCoding(entry: { varyValues: Record<string, string | undefined> }): boolean {
  const coding = entry.varyValues[ACCEPT_ENCODING];
  return coding !== undefined && coding !== 'identity';
}

/**
 * A br or gzip copy the cache made (stored-codings.ts): selected by its coding, while its stored
 * Vary, the origin's, does not name Accept-Encoding (the split is the cache's own).
 */
export function isCompressedCopy(entry: {
  varyValues: Record<string, string | undefined>;
  headers: HeaderMap;
}): boolean {
  return isSelectedByCoding(entry) && !fieldNameList(entry.headers, 'vary').includes(ACCEPT_ENCODING);
}

/**
 * A response's fields as far as content coding goes. Vary names Accept-Encoding when the cache
 * selects it by coding (`variesOnCoding`: it split the URL into copies), and when its body is in a
 * coding the cache decodes for clients that do not take it: to everyone it then depends on
 * Accept-Encoding, and a cache downstream must not hand the coded bytes to such a client (RFC 9110
 * §12.5.5). A copy's ETag is weak whatever a 304 merged into it since (§8.8.3: not the same bytes).
 */
export function withCodingFields(headers: HeaderMap, variesOnCoding: boolean, compressedCopy: boolean): HeaderMap {
  const out = { ...headers };
  if (variesOnCoding || isDecodable(readField(headers, 'content-encoding'))) out.vary = varyWithAcceptEncoding(headers);
  const etag = compressedCopy ? weakenEntityTag(readField(headers, 'etag')) : undefined;
  if (etag !== undefined) out.etag = etag;
  // A copy offers no ranges: a Range is answered from the identity body (RFC 9110 §14.3), so the
  // origin's `Accept-Ranges: bytes`, stored with the copy, would invite a client holding br bytes
  // to resume with bytes of another representation.
  if (compressedCopy) delete out['accept-ranges'];
  return out;
}

/** `Vary` with Accept-Encoding added (once), as the header value to store and send. */
export function varyWithAcceptEncoding(headers: HeaderMap): string {
  const names = fieldNameList(headers, 'vary');
  const original = readField(headers, 'vary');
  if (names.includes(ACCEPT_ENCODING)) return original ?? 'Accept-Encoding';
  return original === undefined || original.trim() === '' ? 'Accept-Encoding' : `${original}, Accept-Encoding`;
}

/**
 * The fields of a coded body decoded on the fly: no Content-Encoding, no length (known only at
 * the end), no ranges, Vary names Accept-Encoding, a weak ETag (RFC 9110 §8.8.3: other bytes).
 */
export function decodedFields(headers: HeaderMap): HeaderMap {
  const out = { ...headers };
  for (const name of ['content-encoding', 'content-length', 'content-range', 'accept-ranges']) delete out[name];
  out.vary = varyWithAcceptEncoding(headers);
  const etag = weakenEntityTag(readField(headers, 'etag'));
  if (etag !== undefined) out.etag = etag;
  return out;
}
