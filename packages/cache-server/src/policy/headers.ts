import { HEADER, HOP_BY_HOP_HEADERS } from '@simple-cache/common';
import type { EntryMeta, HeaderMap } from './types.js';
import { fieldNameList, fieldNamesOf, readField } from './cache-control.js';
import { responseDirectives, type ControlFields } from './response-control.js';

/**
 * Fields specific to the proxy a cache forwarded through (RFC 9111 §3.1): never stored. The
 * other two it names (Proxy-Authenticate, Proxy-Authorization) are already hop-by-hop.
 */
const PROXY_SPECIFIC_FIELDS = ['proxy-authentication-info'];

/**
 * Request fields some origins (frameworks, rewrite rules) act on although the key does not
 * include them. On a fetch whose response may be stored they would let one client change what
 * every other client gets (cache poisoning), so such fetches never carry them; pass-through
 * requests, whose responses are not stored, keep them. X-Forwarded-Host is on the list because
 * the cache fills it from the client's Host, which the key does not include either.
 */
export const UNKEYED_REQUEST_FIELDS: readonly string[] = [
  'x-forwarded-host',
  'x-forwarded-server',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'forwarded',
  'x-host',
  'x-original-host',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

/**
 * Set-Cookie belongs to the one client whose request fetched the response: it is never stored,
 * so never served from the cache (storability decides whether the rest may be stored).
 */
const PER_CLIENT_RESPONSE_FIELDS = ['set-cookie'];

/**
 * Fields for surrogates, the caches acting for the origin (W3C Edge Architecture 1.0): this
 * cache obeys Surrogate-Control and removes it, so neither it nor what it targets at others
 * reaches clients or caches beyond us. Stored, since freshness reads it from the entry.
 */
const SURROGATE_RESPONSE_FIELDS = ['surrogate-control'];

/** Greatest Age we send (RFC 9111 §1.2.2: overflowing calculations become 2^31). */
const MAX_AGE_SECONDS = 2_147_483_648;

/** Field names a message's Connection lines nominate as hop-by-hop (RFC 9110 §7.6.1), lower-case. */
export function connectionListedNames(headers: HeaderMap): string[] {
  return fieldNameList(headers, 'connection');
}

/**
 * A copy without hop-by-hop fields (RFC 9110 §7.6.1): the fixed list and whatever Connection
 * names. Keys come out lower-case; absent (undefined) values are dropped.
 */
export function stripHopByHop(headers: HeaderMap): HeaderMap {
  const lowerCased = withoutFields(headers, []);
  return withoutFields(lowerCased, [...HOP_BY_HOP_HEADERS, ...connectionListedNames(lowerCased)]);
}

/**
 * Request headers sent to the origin (RFC 9110 §7.6): hop-by-hop fields removed, Host set to the
 * origin's, X-Forwarded-For / -Proto / -Host describing the client's connection, our Via
 * member appended (RFC 9110 §7.6.3: a gateway MUST send Via inbound), and our
 * Surrogate-Capability. Content-Length is left as
 * the client sent it: the body is streamed through unchanged.
 */
export function forwardRequestHeaders(
  headers: HeaderMap,
  via: { clientIp: string; proto: 'http' | 'https'; name: string; originHost: string; version?: string },
): HeaderMap {
  const out = withoutPseudoFields(stripHopByHop(headers));
  // RFC 9113 §8.3.1: an HTTP/2 request names its host in :authority, and may send no Host.
  const clientHost = readField(headers, 'host') ?? readField(headers, ':authority');
  out.host = via.originHost;
  out[HEADER.xForwardedFor] = appendToList(readField(headers, HEADER.xForwardedFor), via.clientIp);
  out[HEADER.xForwardedProto] = via.proto;
  if (clientHost !== undefined) out[HEADER.xForwardedHost] = clientHost;
  // RFC 9110 §7.6.3: the protocol version the request was received with (`2` over HTTP/2).
  out[HEADER.via] = appendToList(readField(headers, HEADER.via), `${via.version ?? '1.1'} ${via.name}`);
  // W3C Edge Architecture §2.1: this surrogate's device token, so the origin may target it in
  // Surrogate-Control. A client's own Surrogate-Capability is replaced, not passed on: what it
  // announces would change the origin's answer without being part of the key, and the
  // Surrogate-Control sent for it would be removed here anyway.
  out['surrogate-capability'] = `${via.name}="Surrogate/1.0"`;
  return out;
}

/**
 * Without HTTP/2's pseudo-header fields (`:method`, `:path`, `:authority`, `:scheme`, RFC 9113
 * §8.3): they are the request line's parts, never fields of an HTTP/1.1 request to the origin.
 */
function withoutPseudoFields(headers: HeaderMap): HeaderMap {
  if (!Object.keys(headers).some((name) => name.startsWith(':'))) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !name.startsWith(':')));
}

/** Forwarded request headers for a fetch whose response may be stored: no UNKEYED_REQUEST_FIELDS. */
export function withoutUnkeyedFields(headers: HeaderMap): HeaderMap {
  return withoutFields(headers, UNKEYED_REQUEST_FIELDS);
}

/**
 * The headers kept in `EntryMeta.headers` (RFC 9111 §3.1): everything received except hop-by-hop
 * and proxy-specific fields and the fields a `private="…"` directive names (§5.2.2.7: a shared
 * cache MUST NOT store them). The targeted field and Surrogate-Control stay: freshness reads
 * them from the entry.
 * Set-Cookie is never stored (PER_CLIENT_RESPONSE_FIELDS); whether the rest of such a response
 * may be stored is storability's call.
 */
export function storedResponseHeaders(headers: HeaderMap, fields: ControlFields): HeaderMap {
  const privateFields = fieldNamesOf(responseDirectives(headers, fields).get('private'));
  return withoutFields(stripHopByHop(headers), [
    ...PROXY_SPECIFIC_FIELDS,
    ...PER_CLIENT_RESPONSE_FIELDS,
    ...privateFields,
  ]);
}

/**
 * Headers of a response served from the cache: the stored ones, with Age (RFC 9111 §5.1,
 * whole non-negative seconds), without Surrogate-Control, without `targetedField` (RFC 9213:
 * forwarded unless --strip-targeted-field; '' keeps it) and without `stripFields` (the names of
 * `no-cache="…"`, RFC 9111 §5.2.2.4, when served without revalidation).
 */
export function clientResponseHeaders(
  entry: EntryMeta,
  opts: { age: number; stripFields: string[]; targetedField: string },
): HeaderMap {
  const out = withoutFields(stripHopByHop(entry.headers), [
    ...SURROGATE_RESPONSE_FIELDS,
    opts.targetedField,
    ...opts.stripFields,
  ]);
  out[HEADER.age] = String(ageSeconds(opts.age));
  return out;
}

/** Response headers relayed from the origin: hop-by-hop fields, Surrogate-Control and `targetedField` removed. */
export function forwardResponseHeaders(headers: HeaderMap, targetedField: string): HeaderMap {
  return withoutFields(stripHopByHop(headers), [...SURROGATE_RESPONSE_FIELDS, targetedField]);
}

function ageSeconds(age: number): number {
  if (!(age > 0)) return 0;
  return Math.min(Math.floor(age), MAX_AGE_SECONDS);
}

function appendToList(existing: string | undefined, member: string): string {
  return existing === undefined || existing.trim() === '' ? member : `${existing}, ${member}`;
}

/** A copy with lower-case keys, without `names` (any case) and without undefined values. */
function withoutFields(headers: HeaderMap, names: readonly string[]): HeaderMap {
  const drop = new Set(names.map((name) => name.toLowerCase()));
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || drop.has(lower)) continue;
    out[lower] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}
