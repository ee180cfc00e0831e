/**
 * What the cache knows about one stored response, apart from its body. This is what the store
 * persists next to the body and what the policy module reasons about.
 *
 * Words used everywhere: the *key* is the primary cache key (the normalised request target at
 * the origin); a *variant* is one stored response for a key, chosen by the request headers its
 * response's `Vary` names (the secondary key, RFC 9111 §4.1).
 */
export type HeaderMap = Record<string, string | string[] | undefined>;

export interface EntryMeta {
  /** Primary key: absolute, normalised URL of the resource at the origin. */
  key: string;
  /** Secondary key: '' when the response has no `Vary`, else a canonical form of the request's
   * values of the nominated headers. Unique per key. */
  variant: string;
  /** Lower-case header names nominated by the response's `Vary` (may contain '*'). */
  vary: string[];
  /** The request's values (normalised) for each name in `vary`, absent header = undefined. */
  varyValues: Record<string, string | undefined>;
  /** Response status code. */
  status: number;
  /** Stored response headers: lower-case names, hop-by-hop fields already removed. */
  headers: HeaderMap;
  /** Wall clock (ms since epoch) when the request that produced this response was sent (RFC 9111 §4.2.3 request_time). */
  requestTime: number;
  /** Wall clock (ms since epoch) when the response was received (RFC 9111 §4.2.3 response_time). */
  responseTime: number;
  /** Body length in bytes. */
  size: number;
  /** Identifies the body blob in the store; changes whenever the body is replaced. */
  bodyId: string;
  /** Hex digest of the body (sha1), verified when the whole body is read into memory. */
  checksum?: string;
  /** Wall clock (ms) of the last time this entry was served; used by eviction. */
  lastAccess?: number;
  /** How many times it was served from the cache. */
  hits?: number;
  /**
   * Set when the entry holds only part of a representation: a stored `206` (RFC 9111 §3.3). Its
   * body is the bytes `start`–`end` alone, and its `vary` starts with `*` so that no request
   * selects it as a complete response (§4.1); `policy/partial.ts` selects parts instead.
   */
  part?: EntryPart;
}

/** Which bytes of which representation a partial entry holds (RFC 9110 §14.4 Content-Range). */
export interface EntryPart {
  /** The variant (secondary key) of the representation this is a part of. */
  variant: string;
  /** First byte position held (0-based, inclusive). */
  start: number;
  /** Last byte position held (inclusive). */
  end: number;
  /** The representation's complete length. */
  length: number;
}
