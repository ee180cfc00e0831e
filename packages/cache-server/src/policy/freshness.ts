import { deltaSeconds, hasConflict, parseDeltaSeconds, readField, type Directives } from './cache-control.js';
import { governingDirectives, ignoresExpires } from './response-control.js';
import { parseHttpDate } from './http-date.js';
import type { EntryMeta, Freshness, HeaderMap, PolicyOptions } from './types.js';

type FreshnessInput = Pick<EntryMeta, 'status' | 'headers' | 'responseTime'>;
type AgeInput = Pick<EntryMeta, 'headers' | 'requestTime' | 'responseTime'>;

/** Status codes defined as heuristically cacheable (RFC 9110 §15.1). */
export const HEURISTICALLY_CACHEABLE_STATUSES: ReadonlySet<number> = new Set([
  200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501,
]);

/**
 * Freshness lifetime in whole seconds (RFC 9111 §4.2.1), first match wins: s-maxage (we are a
 * shared cache), max-age, Expires − Date, heuristic (§4.2.2), else 0. The targeted field
 * (RFC 9213) replaces Cache-Control and Expires when valid. A lifetime directive that is
 * invalid (`max-age=-1`, `max-age=a100`) or given twice with different values yields 0: §4.2.1
 * encourages treating invalid freshness information as stale and allows it for duplicates. So
 * does an `Age` that is a number followed by something else (see `readAgeField`).
 *
 * The operator's rules come first and last: a rule's `ttl` replaces all of these (nginx's
 * `proxy_cache_valid` with the origin's lifetime ignored); its `default-ttl` replaces only the
 * heuristic, when the response gives no explicit lifetime. With `force` Expires is ignored too.
 */
export function freshnessLifetime(entry: FreshnessInput, opts: PolicyOptions): Freshness {
  const freshness = declaredLifetime(entry, opts);
  // An Age the cache cannot read but that claims some age: no lifetime can be trusted against it.
  return readAgeField(entry.headers) === 'untrusted' ? { ...freshness, lifetime: 0 } : freshness;
}

function declaredLifetime(entry: FreshnessInput, opts: PolicyOptions): Freshness {
  if (opts.ttl !== undefined) return { lifetime: opts.ttl, source: 'rule-ttl' };
  const directives = governingDirectives(entry.headers, opts);
  for (const source of ['s-maxage', 'max-age'] as const) {
    if (directives.has(source)) return { lifetime: lifetimeDirective(directives, source), source };
  }
  if (!opts.force && !ignoresExpires(entry.headers, opts) && entry.headers['expires'] !== undefined) {
    return { lifetime: expiresLifetime(entry), source: 'expires' };
  }
  if (opts.defaultTtl !== undefined) return { lifetime: opts.defaultTtl, source: 'rule-default-ttl' };
  const heuristic = heuristicLifetime(entry, directives, opts);
  return heuristic === undefined ? { lifetime: 0, source: 'none' } : { lifetime: heuristic, source: 'heuristic' };
}

/**
 * Current age in whole seconds (RFC 9111 §4.2.3): the corrected initial age (the larger of the
 * apparent age and Age + response delay) plus the time resident in this cache.
 */
export function currentAge(entry: AgeInput, now: number): number {
  return Math.floor(exactAge(entry, now));
}

/** As `currentAge`, before rounding down; for comparisons where a fraction of a second matters. */
export function exactAge(entry: AgeInput, now: number): number {
  return ageAt(initialAge(entry), entry.responseTime, now);
}

/**
 * The corrected initial age in seconds (RFC 9111 §4.2.3): the larger of the apparent age and
 * Age + response delay. It is fixed once the response is stored, so it can be computed once.
 */
export function initialAge(entry: AgeInput): number {
  const dateValue = dateOf(entry) ?? entry.responseTime;
  const apparentAge = Math.max(0, entry.responseTime - dateValue) / 1000;
  const responseDelay = Math.max(0, entry.responseTime - entry.requestTime) / 1000;
  const correctedAgeValue = ageFieldSeconds(entry.headers) + responseDelay;
  return Math.max(apparentAge, correctedAgeValue);
}

/** RFC 9111 §4.2.3: corrected initial age plus the time resident in this cache, in seconds (exact). */
export function ageAt(initial: number, responseTime: number, now: number): number {
  return initial + Math.max(0, now - responseTime) / 1000;
}

/** RFC 9111 §4.2: fresh while the lifetime exceeds the age. */
export function isFresh(lifetime: number, age: number): boolean {
  return lifetime > age;
}

/** A response that may be given a heuristic lifetime (RFC 9111 §4.2.2, public: §5.2.2.9). */
export function allowsHeuristicFreshness(status: number, directives: Directives): boolean {
  return HEURISTICALLY_CACHEABLE_STATUSES.has(status) || directives.has('public');
}

/**
 * The Age field as this cache reads it (RFC 9111 §5.1, §4.2.3):
 * - absent: 0;
 * - one delta-seconds value (surrounding whitespace aside): that many seconds, capped at 2^31
 *   (§1.2.2); a list whose members are all that same value (`0, 0`, two `Age: 60` lines) is
 *   still that one value;
 * - anything else: 'untrusted', and the response is treated as stale, i.e. validated before it
 *   is reused (as §4.2.1 does for invalid freshness information). That covers garbage (`abc`),
 *   a negative or decimal number (`-7200`, `7200.0`), a parameter or a unit (`7200;foo=bar`,
 *   `7200 seconds`), and lists that disagree (`7200, 0`, `0, 7200`, two Age lines).
 *
 * Deliberately stricter than §5.1, which says a cache SHOULD use a list's first member and
 * ignore an invalid value (issue 13): an intermediary that sent garbage, or several ages, cannot
 * be trusted to have been fresh, and reading its Age as 0 would serve as fresh a response that
 * may be arbitrarily old. The cost is one conditional request to the origin.
 */
export function readAgeField(headers: HeaderMap): number | 'untrusted' {
  const value = readField(headers, 'age');
  if (value === undefined) return 0;
  const members = value.split(',').map((member) => parseDeltaSeconds(member.trim()));
  const [first] = members;
  if (first === undefined || members.some((seconds) => seconds !== first)) return 'untrusted';
  return first;
}

/** The Age field's seconds for the age calculation (RFC 9111 §4.2.3): an untrusted one counts as 0. */
export function ageFieldSeconds(headers: HeaderMap): number {
  const age = readAgeField(headers);
  return age === 'untrusted' ? 0 : age;
}

function lifetimeDirective(directives: Directives, name: 's-maxage' | 'max-age'): number {
  if (hasConflict(directives, name)) return 0;
  return deltaSeconds(directives, name) ?? 0;
}

/** RFC 9111 §5.3: an invalid Expires (e.g. "0") means already expired; no Date → time received. */
function expiresLifetime(entry: FreshnessInput): number {
  const expires = parseHttpDate(firstLine(entry.headers, 'expires'), entry.responseTime);
  if (expires === undefined) return 0;
  const dateValue = dateOf(entry) ?? entry.responseTime;
  return Math.max(0, Math.floor((expires - dateValue) / 1000));
}

/** RFC 9111 §4.2.2: a fraction of the time since Last-Modified, capped. */
function heuristicLifetime(entry: FreshnessInput, directives: Directives, opts: PolicyOptions): number | undefined {
  if (!opts.heuristics || !allowsHeuristicFreshness(entry.status, directives)) return undefined;
  const lastModified = parseHttpDate(firstLine(entry.headers, 'last-modified'), entry.responseTime);
  if (lastModified === undefined) return undefined;
  const dateValue = dateOf(entry) ?? entry.responseTime;
  const sinceModified = Math.max(0, dateValue - lastModified) / 1000;
  return Math.floor(Math.min(sinceModified * opts.heuristicFraction, opts.heuristicMaxAge));
}

function dateOf(entry: Pick<EntryMeta, 'headers' | 'responseTime'>): number | undefined {
  return parseHttpDate(firstLine(entry.headers, 'date'), entry.responseTime);
}

/** Singleton date fields: the first line only (a joined list would not parse, and dates contain commas). */
function firstLine(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
