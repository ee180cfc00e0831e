import type { HeaderMap } from './types.js';

/**
 * Cache directives by lower-case name. The value is the argument with quoting removed
 * (RFC 9110 §5.6.4), or `true` when the directive has no `=`.
 *
 * Duplicates keep the FIRST value (RFC 9111 §4.2.1 allows "the first occurrence should be used");
 * when a later occurrence disagrees, the name is recorded as conflicting (see `hasConflict`), and
 * freshness treats a conflicting lifetime directive as "stale" (the other option §4.2.1 offers,
 * and the safe one). `no-cache` and `private` merge instead: bare wins (most restrictive), else
 * the field-name lists are joined.
 */
export type Directives = Map<string, string | true>;

/** Per-parse record of conflicting directive names, kept out of the map so iteration stays clean. */
const conflicts = new WeakMap<Directives, Set<string>>();

/** Directives whose argument is a list of field names (RFC 9111 §5.2.2.4, §5.2.2.7). */
const FIELD_LIST_DIRECTIVES = new Set(['no-cache', 'private']);

/** RFC 9110 §5.6.2 tchar. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/i;

/** Greatest delta-seconds value we keep (RFC 9111 §1.2.2). */
export const DELTA_SECONDS_MAX = 2_147_483_648;

/** Joins a field's lines as one comma-separated value (RFC 9110 §5.3); undefined when absent. */
export function readField(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A field whose value is a list of field names (Connection, Vary: RFC 9110 §7.6.1, §12.5.5),
 * every line joined: the names lower-case, empty members dropped, each once.
 */
export function fieldNameList(headers: HeaderMap, name: string): string[] {
  const value = readField(headers, name);
  if (value === undefined) return [];
  const names = value
    .split(',')
    .map((member) => member.trim().toLowerCase())
    .filter((member) => member !== '');
  return [...new Set(names)];
}

/** Parses Cache-Control (request or response), tolerating junk: bad members are skipped. */
export function parseCacheControl(value: string | string[] | undefined): Directives {
  const directives: Directives = new Map();
  if (value === undefined) return directives;
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const [name, arg] of splitMembers(line)) addDirective(directives, name, arg);
  }
  return directives;
}

/** True when `name` appeared more than once with different arguments (RFC 9111 §4.2.1). */
export function hasConflict(directives: Directives, name: string): boolean {
  return conflicts.get(directives)?.has(name) ?? false;
}

/**
 * A directive's delta-seconds argument (RFC 9111 §1.2.2): digits only, quoted form accepted
 * (RFC 9111 §5.2). Overflow → 2^31. Absent, bare, negative, fractional or non-numeric →
 * undefined; callers decide what an invalid value means (freshness treats it as stale).
 */
export function deltaSeconds(directives: Directives, name: string): number | undefined {
  const arg = directives.get(name);
  return typeof arg === 'string' ? parseDeltaSeconds(arg) : undefined;
}

/** delta-seconds = 1*DIGIT (RFC 9111 §1.2.2), capped at 2^31; undefined when not digits only. */
export function parseDeltaSeconds(text: string): number | undefined {
  return /^\d+$/.test(text) ? Math.min(Number(text), DELTA_SECONDS_MAX) : undefined;
}

/** Field names in `no-cache="a, b"` / `private="x"`, lower-case; [] for the bare form. */
export function fieldNamesOf(value: string | true | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => TOKEN.test(name));
}

/** Request directives; `Pragma: no-cache` means `no-cache` when Cache-Control is absent (RFC 9111 §5.4). */
export function requestDirectives(headers: HeaderMap): Directives {
  const directives = parseCacheControl(headers['cache-control']);
  if (headers['cache-control'] === undefined && hasPragmaNoCache(headers)) directives.set('no-cache', true);
  return directives;
}

function hasPragmaNoCache(headers: HeaderMap): boolean {
  const pragma = readField(headers, 'pragma');
  return pragma !== undefined && pragma.split(',').some((member) => member.trim().toLowerCase() === 'no-cache');
}

function addDirective(directives: Directives, name: string, arg: string | true): void {
  const previous = directives.get(name);
  if (previous === undefined) {
    directives.set(name, arg);
  } else if (FIELD_LIST_DIRECTIVES.has(name)) {
    directives.set(name, previous === true || arg === true ? true : `${previous}, ${arg}`);
  } else if (previous !== arg) {
    const names = conflicts.get(directives) ?? new Set<string>();
    names.add(name);
    conflicts.set(directives, names);
  }
}

/** Splits one field line into [name, argument] pairs; members that are not `token[=value]` are dropped. */
function* splitMembers(line: string): Generator<[string, string | true]> {
  for (const text of splitListMembers(line)) {
    const member = parseMember(text);
    if (member !== undefined) yield member;
  }
}

/** The members of one list line, split at commas outside quoted strings (RFC 9110 §5.6.1, §5.6.4), untrimmed. */
export function splitListMembers(line: string): string[] {
  const members: string[] = [];
  let i = 0;
  while (i < line.length) {
    const end = findMemberEnd(line, i);
    members.push(line.slice(i, end));
    i = end + 1;
  }
  return members;
}

/** Index of the comma ending the member that starts at `start` (commas inside quotes don't count). */
function findMemberEnd(line: string, start: number): number {
  let quoted = false;
  for (let i = start; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) return i;
  }
  return line.length;
}

/**
 * `token [ "=" ( token / quoted-string ) ]` (RFC 9111 §5.2): no whitespace around "=", so
 * `max-age =5` has no valid name and `max-age= 5` no valid delta-seconds.
 */
function parseMember(member: string): [string, string | true] | undefined {
  const text = member.trim();
  const eq = text.indexOf('=');
  const name = (eq === -1 ? text : text.slice(0, eq)).toLowerCase();
  if (!TOKEN.test(name)) return undefined;
  if (eq === -1) return [name, true];
  const raw = text.slice(eq + 1);
  return [name, raw.startsWith('"') ? unquote(raw) : raw];
}

/** RFC 9110 §5.6.4: strips the quotes and quoted-pair backslashes; an unterminated string runs to the end. */
function unquote(raw: string): string {
  let out = '';
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i];
    if (c === '"') break;
    if (c === '\\' && i + 1 < raw.length) i++;
    out += raw[i];
  }
  return out;
}
