import type { EntryPart } from '@simple-cache/common';
import type { ByteRange } from './range.js';
import { readField } from './cache-control.js';
import { parseHttpDate } from './http-date.js';
import { matchesVariant } from './keys.js';
import { strongMatch } from './validation.js';
import { coalesceRanges, ifRangeAllows, parseRange } from './range.js';
import { decideStorable } from './storable.js';
import type { EntryMeta, HeaderMap, PolicyOptions, RequestView, ResponseView, StorabilityDecision } from './types.js';

/**
 * Partial content (RFC 9111 §3.3, §3.4): which bytes a stored `206` holds, whether a request is
 * inside what is held, and how parts of one representation combine. Pure: the proxy asks, the
 * store keeps each part as an entry of its own (`EntryMeta.part`) whose body is the part's bytes.
 */

/** A stored part: an entry holding `part.start`–`part.end` of a representation. */
export type PartEntry = EntryMeta & { part: EntryPart };

/** RFC 9110 §14.4 `Content-Range`: a range with its complete length (`*` → undefined), or `*\/length`. */
export type ContentRange =
  { kind: 'range'; start: number; end: number; length: number | undefined } | { kind: 'unsatisfied'; length: number };

const RANGE_RESP = /^bytes[ \t]+(\d+)-(\d+)\/(\d+|\*)$/i;
const UNSATISFIED = /^bytes[ \t]+\*\/(\d+)$/i;

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  const unsatisfied = UNSATISFIED.exec(text);
  if (unsatisfied) return { kind: 'unsatisfied', length: Number(unsatisfied[1]) };
  const match = RANGE_RESP.exec(text);
  if (!match) return undefined;
  const [start, end] = [Number(match[1]), Number(match[2])];
  const length = match[3] === '*' ? undefined : Number(match[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end) return undefined;
  // §14.4: a range past the complete length is invalid.
  if (length !== undefined && !(Number.isSafeInteger(length) && end < length)) return undefined;
  return { kind: 'range', start, end, length };
}

/** Which bytes a 206 carries, or why it cannot be stored as a part. */
export type PartDescription =
  { storable: true; range: Omit<EntryPart, 'variant'> } | { storable: false; reason: string };

/**
 * RFC 9111 §3.3: may this response be stored as a part? Only a `206` with one part whose
 * `Content-Range` names its bytes and the complete length; the length announced must be the
 * range's (a 206 whose `Content-Length` disagrees with its `Content-Range` says two things about
 * its bytes, so it says nothing: servo refuses it too). A `multipart/byteranges` body is relayed
 * unstored (its parts would have to be parsed out of it).
 */
export function describePart(res: Pick<ResponseView, 'status' | 'headers'>): PartDescription {
  if (res.status !== 206) return { storable: false, reason: 'not-partial' };
  const type = readField(res.headers, 'content-type')?.trim().toLowerCase() ?? '';
  if (type.startsWith('multipart/byteranges')) return { storable: false, reason: 'partial-multipart' };
  const range = parseContentRange(readField(res.headers, 'content-range'));
  if (range === undefined || range.kind !== 'range') return { storable: false, reason: 'partial-content-range' };
  if (range.length === undefined) return { storable: false, reason: 'partial-unknown-length' };
  const declared = readField(res.headers, 'content-length');
  if (declared !== undefined && declared.trim() !== String(range.end - range.start + 1)) {
    return { storable: false, reason: 'partial-length-mismatch' };
  }
  return { storable: true, range: { start: range.start, end: range.end, length: range.length } };
}

/**
 * May a response to a GET be stored (RFC 9111 §3)? A 206 as a part when describePart accepts it
 * and §3's other rules would store the complete response; a 416 to a request that carried a
 * Range never (it answers that Range, not the URL); anything else as `decideStorable` says.
 */
export function decideAnswerStorable(
  req: RequestView,
  res: ResponseView,
  opts: PolicyOptions,
  carriedRange: boolean,
): StorabilityDecision & { range?: Omit<EntryPart, 'variant'> } {
  if (res.status === 416 && carriedRange) return { storable: false, reason: 'range-not-satisfiable' };
  if (res.status !== 206) return decideStorable(req, res, opts);
  const described = describePart(res);
  if (!described.storable) return { storable: false, reason: described.reason };
  // §3.3: a part is kept under the rules of the response it is part of.
  const whole = decideStorable(req, { ...res, status: 200 }, opts);
  return whole.storable ? { ...whole, range: described.range } : whole;
}

/** The entry that stores `range` of the representation `entry` describes (its own variant, `*` first in vary). */
export function toPartEntry<T extends Omit<EntryMeta, 'bodyId' | 'checksum'>>(
  entry: T,
  range: Omit<EntryPart, 'variant'>,
): T & { part: EntryPart } {
  const part = { variant: entry.variant, ...range };
  return {
    ...entry,
    variant: partVariant(entry.variant, part),
    vary: partVary(entry.vary),
    size: range.end - range.start + 1,
    part,
  };
}

export function isPart(entry: EntryMeta): entry is PartEntry {
  return entry.part !== undefined;
}

/**
 * The variant a part is stored under: one per range of one variant. A field value never holds
 * a line break (RFC 9110 §5.5), so this cannot collide with a complete response's variant.
 */
export function partVariant(variant: string, range: Pick<EntryPart, 'start' | 'end'>): string {
  return `${variant}\nbytes=${range.start}-${range.end}`;
}

/**
 * A part's `vary`: `*` first, then the fields that select the representation. RFC 9111 §4.1: a
 * `Vary: *` never matches, so every lookup of a complete response (this release's, an older
 * one's, the fast hit path's) passes over parts; `selectParts` reads the names after the `*`.
 */
export function partVary(vary: readonly string[]): string[] {
  return ['*', ...vary.filter((name) => name !== '*')];
}

/**
 * The part as the response it is, without the `*` that keeps lookups of complete responses off
 * it: for the questions asked of any stored response (selection, freshness, use).
 */
export function asResponse(entry: PartEntry): PartEntry {
  return { ...entry, vary: entry.vary.filter((name) => name !== '*') };
}

/** The parts that make up what is held of the request's variant, and the parts that are outdated. */
export interface HeldParts {
  /**
   * The newest part that matches the request and every part sharing its strong validator and
   * length (RFC 9111 §3.4), newest first; empty when none matches.
   */
  held: PartEntry[];
  /** Parts of the same variant that are of another representation (another validator or length). */
  outdated: PartEntry[];
}

/** The parts among `entries` that this request selects, grouped by combinability (RFC 9111 §3.4, §4.1). */
export function selectParts(entries: readonly EntryMeta[], reqHeaders: HeaderMap): HeldParts {
  const matching = entries
    .filter(isPart)
    .filter((entry) => matchesVariant(asResponse(entry), reqHeaders))
    .sort((a, b) => generatedAt(b) - generatedAt(a) || b.responseTime - a.responseTime);
  const newest = matching[0];
  if (newest === undefined) return { held: [], outdated: [] };
  const held: PartEntry[] = [];
  const outdated: PartEntry[] = [];
  for (const entry of matching) (combinable(newest, entry) ? held : outdated).push(entry);
  return { held, outdated };
}

/**
 * RFC 9111 §3.4: parts combine only when they share the same strong validator (RFC 9110 §8.8.1)
 * and, being of one representation, the same complete length. A strong ETag must match strongly;
 * without ETags, equal Last-Modified dates count when both are strong for an intermediate cache
 * (§8.8.2.2: at least 60 seconds before the response's Date). Without a strong validator a part
 * is only ever combined with itself.
 */
export function combinable(a: PartEntry, b: PartEntry): boolean {
  if (a === b) return true;
  if (a.part.length !== b.part.length || a.part.variant !== b.part.variant) return false;
  const etagA = readField(a.headers, 'etag')?.trim();
  const etagB = readField(b.headers, 'etag')?.trim();
  if (etagA !== undefined || etagB !== undefined) {
    return etagA !== undefined && etagB !== undefined && strongMatch(etagA, etagB);
  }
  const modifiedA = strongLastModified(a);
  return modifiedA !== undefined && modifiedA === strongLastModified(b);
}

/** §8.8.2.2: what an intermediate cache may take as strong: a Last-Modified 60 s or more before Date. */
const STRONG_LAST_MODIFIED_MS = 60_000;

function strongLastModified(entry: EntryMeta): number | undefined {
  const modified = parseHttpDate(readField(entry.headers, 'last-modified'));
  const date = parseHttpDate(readField(entry.headers, 'date'));
  if (modified === undefined || date === undefined) return undefined;
  return date - modified >= STRONG_LAST_MODIFIED_MS ? modified : undefined;
}

function generatedAt(entry: EntryMeta): number {
  return parseHttpDate(readField(entry.headers, 'date')) ?? entry.responseTime;
}

/** The representation's bytes the parts hold, as sorted, disjoint, non-adjacent ranges. */
export function heldRanges(parts: readonly Pick<EntryPart, 'start' | 'end'>[]): ByteRange[] {
  return coalesceRanges(parts.map(({ start, end }) => ({ start, end })));
}

/** True when the parts hold every byte of the representation (RFC 9110 §15.3.7.3: then it is complete). */
export function isWhole(parts: readonly EntryPart[]): boolean {
  const first = parts[0];
  if (first === undefined) return false;
  const ranges = heldRanges(parts);
  return ranges.length === 1 && ranges[0]?.start === 0 && ranges[0].end === first.length - 1;
}

/** Bytes `from`–`to` (inclusive, offsets in its body) of the part at `index`. */
export interface Segment {
  index: number;
  from: number;
  to: number;
}

/**
 * Where the bytes of `range` are: segments of the parts, in order, which together are exactly
 * that range; undefined when some byte of it is not held (then storage cannot answer, §3.3).
 * Where parts overlap the one reaching furthest is read, so a range takes as few opens as can be.
 */
export function locateRange(
  parts: readonly Pick<EntryPart, 'start' | 'end'>[],
  range: ByteRange,
): Segment[] | undefined {
  const segments: Segment[] = [];
  let position = range.start;
  while (position <= range.end) {
    let best: number | undefined;
    parts.forEach((part, index) => {
      if (part.start > position || part.end < position) return;
      if (best === undefined || part.end > (parts[best] as EntryPart).end) best = index;
    });
    if (best === undefined) return undefined;
    const part = parts[best] as Pick<EntryPart, 'start' | 'end'>;
    const last = Math.min(part.end, range.end);
    segments.push({ index: best, from: position - part.start, to: last - part.start });
    position = last + 1;
  }
  return segments;
}

/**
 * Parts that add nothing: each held entirely by one other part of the same representation.
 * Deleting them keeps what is held and spends fewer entries on it. `parts` is newest first
 * (selectParts), and the newest is never redundant: its header fields describe the combined
 * response and its freshness is theirs (RFC 9111 §3.4), so a fresh part inside an older, larger
 * one keeps the bytes of both servable.
 */
export function redundantParts(parts: readonly PartEntry[]): PartEntry[] {
  return parts.filter(
    (part, i) =>
      i > 0 &&
      parts.some(
        (other, j) =>
          j !== i &&
          other.part.start <= part.part.start &&
          other.part.end >= part.part.end &&
          // Of two equal ranges keep the first (the newest: selectParts sorts newest first).
          (other.part.start !== part.part.start || other.part.end !== part.part.end || j < i),
      ),
  );
}

/**
 * The header fields of a response combined from parts (RFC 9111 §3.4, RFC 9110 §15.3.7.3): the
 * newest part's, without its `Content-Range`, with the complete length as `Content-Length`.
 */
export function combinedHeaders(newest: PartEntry): HeaderMap {
  const headers: HeaderMap = { ...newest.headers };
  delete headers['content-range'];
  headers['content-length'] = String(newest.part.length);
  return headers;
}

/** How stored parts answer a request (RFC 9111 §3.3). */
export type PartsPlan =
  | { kind: 'outside' }
  | { kind: 'unsatisfiable'; length: number }
  | { kind: 'ranges'; length: number; ranges: { range: ByteRange; segments: Segment[] }[] };

/**
 * RFC 9111 §3.3: stored parts answer only a GET whose every range is wholly within what they
 * hold ('ranges'), or none of whose ranges is satisfiable for the complete length they know
 * ('unsatisfiable', a 416). Anything else is 'outside' and goes to the origin: no Range (the
 * complete response is asked for), a Range that is ignored (invalid, another unit), an If-Range
 * that does not hold (RFC 9110 §13.1.5: the whole representation is asked for), a byte not held.
 */
export function planFromParts(req: RequestView, held: readonly PartEntry[]): PartsPlan {
  const newest = held[0];
  const header = readField(req.headers, 'range');
  if (newest === undefined || req.method !== 'GET' || header === undefined) return { kind: 'outside' };
  if (!ifRangeAllows(req, newest)) return { kind: 'outside' };
  const { length } = newest.part;
  const ranges = parseRange(header, length);
  if (ranges === undefined) return { kind: 'outside' };
  if (ranges === 'unsatisfiable') return { kind: 'unsatisfiable', length };
  const parts = held.map((entry) => entry.part);
  const located = [];
  for (const range of ranges) {
    const segments = locateRange(parts, range);
    if (segments === undefined) return { kind: 'outside' };
    located.push({ range, segments });
  }
  return { kind: 'ranges', length, ranges: located };
}
