import type { CacheServerConfig, CacheStatusInfo, EntryMeta, HeaderMap, XCache } from '@simple-cache/common';
import { HEADER, X_CACHE } from '@simple-cache/common';
import type { ErrorSpec } from '../../errors.js';
import {
  appendCacheStatus,
  clientResponseHeaders,
  contentRange,
  fieldNamesOf,
  formatCacheStatus,
  forwardResponseHeaders,
  decodedFields,
  isSelectedByCoding,
  notModifiedHead,
  responseDirectives,
  unsatisfiedContentRange,
  isCompressedCopy,
  withCodingFields,
  type PolicyOptions,
} from '../../policy/index.js';
import type { RangePlan } from './range-serving.js';

/**
 * Every response head the cache writes is built here, so that a header rule (Via, Cache-Status,
 * tag and targeted-field stripping, Age, the 304's fields, Content-Length) lives in one place and
 * the fast hit path (fast-hit.ts) sends the very bytes the full path would.
 */

/** What a head needs from the config, computed once per server. */
export interface HeadRules {
  /** This cache's name in Via and Cache-Status. */
  name: string;
  /** Purge-tag fields (`--tag-header`): kept in storage, never sent to a client. */
  tagHeaders: readonly string[];
  /** The targeted field this cache obeys (RFC 9213): its private="…"/no-cache="…" count too. */
  targetedField: string;
  /** The targeted field removed from responses to clients; '' when it is forwarded (RFC 9213 §3). */
  droppedField: string;
}

export function headRulesFrom(
  config: Pick<CacheServerConfig, 'name' | 'tagHeaders'>,
  policy: Pick<PolicyOptions, 'targetedField' | 'stripTargetedField'>,
): HeadRules {
  return Object.freeze({
    name: config.name,
    tagHeaders: config.tagHeaders,
    targetedField: policy.targetedField,
    droppedField: policy.stripTargetedField ? policy.targetedField : '',
  });
}

/**
 * A status line and its fields, ready for `res.writeHead`, with what they say about the
 * exchange (X-Cache, this cache's Cache-Status parameters, the error code) for its Outcome.
 */
export interface Head {
  status: number;
  headers: HeaderMap;
  xCache: XCache;
  cacheStatus: CacheStatusInfo;
  /** The catalogue code of one of the cache's own errors; '' otherwise. */
  errorCode: string;
}

/**
 * How the client's request is answered from a complete representation: a 304 to its own
 * If-None-Match / If-Modified-Since, or the representation (whole, a range of it, or 416).
 */
export type Answer = { kind: 'not-modified' } | RangePlan;

/** How a stored response is being served. */
export interface StoredAs {
  xCache: XCache;
  status: CacheStatusInfo;
  /** Current age in seconds (RFC 9111 §4.2.3). */
  age: number;
  /** True when served without contacting the origin: no-cache="…" field names are then stripped too. */
  withoutValidation: boolean;
}

/** The head for a stored entry: its stored fields, Age, this cache's fields, and the answer's. */
export function storedHead(entry: EntryMeta, as: StoredAs, answer: Answer, rules: HeadRules): Head {
  const stripFields = strippedFields(entry, rules, as.withoutValidation);
  const stored = clientResponseHeaders(entry, { age: as.age, stripFields, targetedField: rules.droppedField });
  const base = withCacheFields(stored, rules, as.xCache, as.status);
  const headers = withCodingFields(base, entry.vary.includes('accept-encoding'), isCompressedCopy(entry));
  if (answer.kind === 'not-modified') return headOf(notModified(headers), as);
  if (!hasNoBody(entry.status)) headers['content-length'] = String(entry.size);
  return headOf(rangeHead(answer, entry.status, entry.size, headers, !isSelectedByCoding(entry)), as);
}

// One literal, not `{ ...part, ...says }`: V8 gives each object optimised code builds that way a
// hidden class of its own, which deoptimised its readers (docs/benchmarks.md, new connections).
function headOf({ status, headers }: Pick<Head, 'status' | 'headers'>, as: Pick<StoredAs, 'xCache' | 'status'>): Head {
  return { status, headers, xCache: as.xCache, cacheStatus: as.status, errorCode: '' };
}

/** How a response arriving from the origin is being sent on. */
export interface FetchedAs {
  xCache: XCache;
  status: CacheStatusInfo;
  /** The client shares another client's fetch: the fetching client's Set-Cookie is not for it. */
  collapsed: boolean;
  /** A rule's strip-cookies: Set-Cookie is for no client on this path. */
  stripCookies?: boolean;
  /** The cache stores compressed copies of it: the response varies on Accept-Encoding. */
  varyOnCoding?: boolean;
  /** It is one of those copies (another worker's write, followed): its ETag is shown weak. */
  compressedCopy?: boolean;
  /**
   * It is stored as a variant chosen by its coding (policy isSelectedByCoding): no Range selects
   * it, so it offers none, as its hits do (they said nothing, or the origin's `none`, where the
   * miss said `Accept-Ranges: bytes`).
   */
  selectedByCoding?: boolean;
}

/** The head for a response streaming from the origin (a miss, or a revalidation's new response). */
export function fetchedHead(
  response: { status: number; headers: HeaderMap },
  as: FetchedAs,
  answer: Answer,
  rules: HeadRules,
): Head {
  const forwarded = forwardedFields(response.headers, rules, as.xCache, as.status);
  const headers = withCodingFields(forwarded, as.varyOnCoding === true, as.compressedCopy === true);
  // Set-Cookie is for the client whose request fetched the response, never for those collapsed onto it.
  if (as.collapsed || as.stripCookies) delete headers['set-cookie'];
  if (answer.kind === 'not-modified') return headOf(notModified(headers), as);
  const size = contentLengthOf(response.headers) ?? -1;
  return headOf(rangeHead(answer, response.status, size, headers, as.selectedByCoding !== true), as);
}

/** The head for a body decoded on the fly (respond/decode.ts; its fields: policy decodedFields). */
export function decodedHead(head: Head): Head {
  return { ...head, status: head.status === 206 ? 200 : head.status, headers: decodedFields(head.headers) };
}

/** The origin's answer relayed as it came (pass-through, a HEAD's revalidation): our fields added. */
export function relayedHead(
  response: { status: number; headers: HeaderMap },
  xCache: XCache,
  status: CacheStatusInfo,
  rules: HeadRules,
): Head {
  const headers = forwardedFields(response.headers, rules, xCache, status);
  return { status: response.status, headers, xCache, cacheStatus: status, errorCode: '' };
}

/**
 * The fields of an interim response relayed before the final one (RFC 9110 §15.2; 103 Early
 * Hints, RFC 8297): the origin's, without hop-by-hop fields and what this cache keeps to itself.
 * No X-Cache or Cache-Status: those describe the final response.
 */
export function interimFields(headers: HeaderMap, rules: HeadRules): HeaderMap {
  return withoutTagFields(forwardResponseHeaders(headers, rules.droppedField), rules.tagHeaders);
}

/** One of the catalogue's errors: head and short text body. */
export interface ErrorResponse extends Head {
  body: string;
}

/**
 * The cache's own error answer (the proxy's and the client-side limits'): a short text body, its
 * stable code in X-Cache-Error and in Cache-Status `detail`, never stored by anyone downstream.
 * `status` says whether (and why) the request went forward (RFC 9211 fwd).
 */
export function errorResponse(
  spec: ErrorSpec,
  name: string,
  status: CacheStatusInfo,
  options: { close?: boolean; retryAfterSeconds?: number; xCache?: XCache } = {},
): ErrorResponse {
  const body = `${spec.status} ${spec.message} (${spec.code})\n`;
  const xCache = options.xCache ?? errorXCache(spec);
  const cacheStatus = { ...status, detail: spec.code };
  const headers: HeaderMap = {
    ...(options.close ? { connection: 'close' } : {}),
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'x-cache-error': spec.code,
    [HEADER.xCache]: xCache,
    [HEADER.cacheStatus]: formatCacheStatus(name, cacheStatus),
    [HEADER.via]: `1.1 ${name}`,
    ...(options.retryAfterSeconds !== undefined ? { 'retry-after': String(options.retryAfterSeconds) } : {}),
  };
  return { status: spec.status, headers, body, xCache, cacheStatus, errorCode: spec.code };
}

/** X-Cache of the cache's own errors: MISS when the origin failed (5xx), BYPASS when we refused (4xx). */
export function errorXCache(spec: ErrorSpec): XCache {
  return spec.status >= 500 ? X_CACHE.miss : X_CACHE.bypass;
}

/**
 * Content-Length as a byte count (RFC 9110 §8.6: 1*DIGIT); undefined when absent or not a valid
 * length. The one parse of the field: heads, range answers, the store's expected size and the
 * client-side body limit all read it here.
 */
export function contentLengthOf(headers: HeaderMap): number | undefined {
  const value = headers['content-length'];
  if (typeof value !== 'string' || !/^\s*\d+\s*$/.test(value)) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** Response fields passed on from the origin: hop-by-hop and the dropped targeted field removed, ours added. */
function forwardedFields(headers: HeaderMap, rules: HeadRules, xCache: XCache, status: CacheStatusInfo): HeaderMap {
  return withCacheFields(forwardResponseHeaders(headers, rules.droppedField), rules, xCache, status);
}

/** The cache's own fields on every response: X-Cache, Cache-Status (RFC 9211) and Via (RFC 9110 §7.6.3). */
function withCacheFields(headers: HeaderMap, rules: HeadRules, xCache: XCache, status: CacheStatusInfo): HeaderMap {
  const { name } = rules;
  const via = headers[HEADER.via];
  return {
    ...withoutTagFields(headers, rules.tagHeaders),
    [HEADER.xCache]: xCache,
    [HEADER.cacheStatus]: appendCacheStatus(headers[HEADER.cacheStatus], formatCacheStatus(name, status)),
    [HEADER.via]: via ? `${Array.isArray(via) ? via.join(', ') : via}, 1.1 ${name}` : `1.1 ${name}`,
  };
}

/**
 * Purge tags (Surrogate-Key, Cache-Tag: `--tag-header`) address this cache, as Varnish and
 * Fastly treat them: they stay in the stored headers for purge-by-tag, never reach a client.
 */
function withoutTagFields(headers: HeaderMap, tagHeaders: readonly string[]): HeaderMap {
  if (!tagHeaders.some((name) => headers[name] !== undefined)) return headers;
  const out = { ...headers };
  for (const name of tagHeaders) delete out[name];
  return out;
}

/**
 * Fields a shared cache must not hand out from storage: those named by private="…" never
 * (RFC 9111 §5.2.2.7), those named by no-cache="…" unless just validated (§5.2.2.4).
 */
function strippedFields(entry: EntryMeta, rules: HeadRules, withoutValidation: boolean): string[] {
  const directives = responseDirectives(entry.headers, { targetedField: rules.targetedField, cacheName: rules.name });
  const privateFields = fieldNamesOf(directives.get('private'));
  return withoutValidation ? [...privateFields, ...fieldNamesOf(directives.get('no-cache'))] : privateFields;
}

/**
 * The 304 to a client's own If-None-Match / If-Modified-Since: the 200's head without the fields
 * policy's FIELDS_LEFT_OUT_OF_NOT_MODIFIED names (RFC 9110 §15.4.5). That list is for the
 * *response* to a client, distinct from BODY_DESCRIBING_FIELDS, which a 304 from the origin must
 * not update in the stored response (RFC 9111 §3.2).
 */
function notModified(headers: HeaderMap): Pick<Head, 'status' | 'headers'> {
  return { status: 304, headers: notModifiedHead(headers) };
}

/** Statuses whose responses carry no body (RFC 9110 §6.4.1). */
export function hasNoBody(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * The status and fields for `plan` over a `size`-byte representation whose own status is
 * `status`: 206 with Content-Range / multipart Content-Type (RFC 9110 §15.3.7), 416 with
 * `bytes *\/size` (§15.5.17), or the representation as it is. Accept-Ranges advertises that
 * the cache serves ranges of complete responses (§14.3).
 */
function rangeHead(
  plan: RangePlan,
  status: number,
  size: number,
  headers: HeaderMap,
  offersRanges = true,
): Pick<Head, 'status' | 'headers'> {
  if (status === 200 && offersRanges) headers['accept-ranges'] = 'bytes';
  switch (plan.kind) {
    case 'whole':
      return { status, headers };
    case 'unsatisfiable':
      return {
        status: 416,
        headers: { ...headers, 'content-range': unsatisfiedContentRange(size), 'content-length': '0' },
      };
    case 'single':
      headers['content-range'] = contentRange(plan.range, size);
      headers['content-length'] = String(plan.range.end - plan.range.start + 1);
      return { status: 206, headers };
    case 'multipart':
      delete headers['content-range'];
      headers['content-type'] = plan.layout.contentType;
      headers['content-length'] = String(plan.layout.length);
      return { status: 206, headers };
  }
}
