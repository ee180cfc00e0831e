import type { EntryMeta, RequestView } from './types.js';
import { readField } from './cache-control.js';
import { parseHttpDate } from './http-date.js';
import { strongMatch } from './validation.js';

/**
 * An inclusive byte range of a body, as in `Content-Range` (RFC 9110 §14.4). Declared here, in
 * the pure core, and used by the store's openBody (store/store.ts re-exports it): policy/ never
 * imports from store/.
 */
export interface ByteRange {
  start: number;
  end: number;
}

/** More range-specs than this and the Range field is ignored (RFC 9110 §14.2 allows it, against abuse). */
export const MAX_RANGES = 16;

/** RFC 9110 §14.1.1: int-range `first-last` / `first-`, or suffix-range `-length`; digits only. */
const RANGE_SPEC = /^(\d*)-(\d*)$/;

/**
 * The byte ranges a Range field asks of a `size`-byte representation (RFC 9110 §14.1.2, §14.2):
 * - undefined: serve the whole representation with 200 — no field, a unit other than bytes,
 *   invalid syntax (including last < first), more than MAX_RANGES specs, or an empty
 *   representation asked for a suffix (§14.1.1: the only satisfiable form, and there is nothing
 *   to send but all of it);
 * - 'unsatisfiable': no spec is satisfiable (416);
 * - else the satisfiable ranges, clamped to the representation, sorted, overlapping and adjacent
 *   ones coalesced (§14.2 allows it "regardless of the order" requested).
 * Call it only when the stored response may answer a range (a complete 200, If-Range passed).
 */
export function parseRange(header: string | undefined, size: number): ByteRange[] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const eq = header.indexOf('=');
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  // RFC 9110 §5.6.1: recipients ignore empty list members.
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return undefined;
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const match = RANGE_SPEC.exec(spec);
    const first = match?.[1] ?? '';
    const last = match?.[2] ?? '';
    if (!match || (first === '' && last === '')) return undefined;
    if (first !== '' && last !== '' && Number(last) < Number(first)) return undefined;
    if (first === '' && Number(last) > 0 && size === 0) return undefined;
    const range = first === '' ? suffixRange(Number(last), size) : intRange(Number(first), last, size);
    if (range !== undefined) ranges.push(range);
  }
  return ranges.length === 0 ? 'unsatisfiable' : coalesceRanges(ranges);
}

/** RFC 9110 §14.1.1: satisfiable when first-pos is inside the representation; last-pos is clamped. */
function intRange(first: number, last: string, size: number): ByteRange | undefined {
  if (first >= size) return undefined;
  return { start: first, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** RFC 9110 §14.1.1: the final `length` bytes (all of them when longer); -0 is unsatisfiable. */
function suffixRange(length: number, size: number): ByteRange | undefined {
  if (length === 0) return undefined;
  return { start: Math.max(0, size - length), end: size - 1 };
}

/** Sorted, with overlapping and adjacent ranges merged (new objects: the input is left as it is). */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const range of sorted) {
    const previous = out[out.length - 1];
    if (previous !== undefined && range.start <= previous.end + 1) previous.end = Math.max(previous.end, range.end);
    else out.push({ ...range });
  }
  return out;
}

/**
 * RFC 9110 §13.1.5: may the Range be honoured? True without If-Range. An entity-tag must match
 * the stored ETag strongly; an HTTP-date must equal the stored Last-Modified, and that date must
 * be a strong validator (§8.8.2.2: the stored Date at least one second later). Otherwise false:
 * the whole representation is sent with 200.
 */
export function ifRangeAllows(req: RequestView, entry: Pick<EntryMeta, 'headers' | 'responseTime'>): boolean {
  const value = readField(req.headers, 'if-range')?.trim();
  if (value === undefined) return true;
  if (value.startsWith('"') || value.startsWith('W/')) {
    const etag = readField(entry.headers, 'etag');
    return etag !== undefined && strongMatch(value, etag);
  }
  const date = parseHttpDate(value, entry.responseTime);
  const lastModified = parseHttpDate(readField(entry.headers, 'last-modified'));
  if (date === undefined || date !== lastModified) return false;
  return isStrongLastModified(lastModified, entry);
}

/** RFC 9110 §8.8.2.2: a Last-Modified one second or more before the response's Date is strong. */
function isStrongLastModified(lastModified: number, entry: Pick<EntryMeta, 'headers' | 'responseTime'>): boolean {
  const date = parseHttpDate(readField(entry.headers, 'date')) ?? entry.responseTime;
  return date - lastModified >= 1000;
}

/** RFC 9110 §14.4: `bytes first-last/complete-length`. */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/** RFC 9110 §15.5.17: a 416 tells the current length as `bytes *\/complete-length`. */
export function unsatisfiedContentRange(size: number): string {
  return `bytes */${size}`;
}

/** What to write for a multipart/byteranges body (RFC 9110 §14.6): each part's head, its bytes, then the tail. */
export interface MultipartPlan {
  /** The response's Content-Type. */
  contentType: string;
  /** In order: write `head` (UTF-8), then the body bytes of `range`. */
  parts: { range: ByteRange; head: string }[];
  /** Written after the last part. */
  tail: string;
  /** Total body length in bytes: the response's Content-Length. */
  length: number;
}

/**
 * Lays out a multipart/byteranges body (RFC 9110 §14.6) for `ranges` of a `size`-byte
 * representation whose own Content-Type is `partType` (omitted from the parts when undefined).
 * `boundary` is the caller's (random, 1–70 characters from RFC 2046 §5.1.1 bchars); kept out of
 * here so this stays deterministic.
 */
export function multipartByteranges(
  ranges: ByteRange[],
  size: number,
  partType: string | undefined,
  boundary: string,
): MultipartPlan {
  const parts = ranges.map((range, i) => {
    const typeLine = partType === undefined ? '' : `Content-Type: ${partType}\r\n`;
    const head = `${i === 0 ? '' : '\r\n'}--${boundary}\r\n${typeLine}Content-Range: ${contentRange(range, size)}\r\n\r\n`;
    return { range, head };
  });
  const tail = `\r\n--${boundary}--\r\n`;
  const length = parts.reduce(
    (sum, part) => sum + Buffer.byteLength(part.head) + part.range.end - part.range.start + 1,
    Buffer.byteLength(tail),
  );
  return { contentType: `multipart/byteranges; boundary=${boundary}`, parts, tail, length };
}
