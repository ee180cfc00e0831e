import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { EntryPart, HeaderMap } from '@simple-cache/common';
import {
  asResponse,
  combinable,
  combinedHeaders,
  decideAnswerStorable,
  describePart,
  heldRanges,
  isPart,
  isWhole,
  locateRange,
  parseContentRange,
  partVariant,
  partVary,
  planFromParts,
  redundantParts,
  selectParts,
  toPartEntry,
  type PartEntry,
  type PartsPlan,
} from '../../src/policy/partial.js';
import { contentRange } from '../../src/policy/range.js';
import { matchesVariant, selectVariant } from '../../src/policy/keys.js';
import type { ByteRange } from '../../src/store/store.js';
import { T0, entry, httpDate, options, request } from './fixtures.js';

/** A stored part of `length` bytes holding start–end, received `age` seconds after T0. */
function part(start: number, end: number, length: number, headers: HeaderMap = {}, seconds = 0): PartEntry {
  const range: EntryPart = { variant: '', start, end, length };
  return entry(
    { date: httpDate(seconds), 'content-range': contentRange({ start, end }, length), ...headers },
    {
      status: 206,
      variant: partVariant('', range),
      vary: partVary([]),
      size: end - start + 1,
      responseTime: T0 + seconds * 1000,
      part: range,
    },
  ) as PartEntry;
}

describe('parseContentRange (RFC 9110 §14.4)', () => {
  test.each<[string, string | undefined, ReturnType<typeof parseContentRange>]>([
    ['absent', undefined, undefined],
    ['a range with its length', 'bytes 4-9/10', { kind: 'range', start: 4, end: 9, length: 10 }],
    ['unit in any case, spaces', ' Bytes 0-0/1 ', { kind: 'range', start: 0, end: 0, length: 1 }],
    ['unknown complete length', 'bytes 0-4/*', { kind: 'range', start: 0, end: 4, length: undefined }],
    ['unsatisfied-range (a 416)', 'bytes */10', { kind: 'unsatisfied', length: 10 }],
    ['last before first', 'bytes 5-4/10', undefined],
    ['last at the complete length', 'bytes 0-10/10', undefined],
    ['another unit', 'items 0-4/10', undefined],
    ['missing last-pos', 'bytes 0-/10', undefined],
    ['negative', 'bytes -1-4/10', undefined],
    ['a list is not one range', 'bytes 0-1/10, bytes 2-3/10', undefined],
  ])('%s', (_name, value, expected) => {
    expect(parseContentRange(value)).toEqual(expected);
  });

  test('reads back what contentRange writes', () => {
    fc.assert(
      fc.property(fc.nat(1e12), fc.nat(1e6), fc.nat(1e6), (start, span, beyond) => {
        const range = { start, end: start + span };
        const size = range.end + 1 + beyond;
        expect(parseContentRange(contentRange(range, size))).toEqual({ kind: 'range', ...range, length: size });
      }),
    );
  });
});

describe('describePart: may a 206 be stored as a part (RFC 9111 §3.3)?', () => {
  const ok = (start: number, end: number, length: number) => ({
    storable: true as const,
    range: { start, end, length },
  });
  test.each<[string, number, HeaderMap, ReturnType<typeof describePart>]>([
    ['one part with its length', 206, { 'content-range': 'bytes 0-4/10', 'content-length': '5' }, ok(0, 4, 10)],
    [
      'chunked (no Content-Length): the store checks the length',
      206,
      { 'content-range': 'bytes 5-9/10' },
      ok(5, 9, 10),
    ],
    ['not a 206', 200, { 'content-range': 'bytes 0-4/10' }, { storable: false, reason: 'not-partial' }],
    ['no Content-Range', 206, {}, { storable: false, reason: 'partial-content-range' }],
    [
      'invalid Content-Range',
      206,
      { 'content-range': 'bytes 9-4/10' },
      { storable: false, reason: 'partial-content-range' },
    ],
    [
      'unknown complete length (bytes 0-4/*): a suffix could not be placed',
      206,
      { 'content-range': 'bytes 0-4/*' },
      { storable: false, reason: 'partial-unknown-length' },
    ],
    [
      'Content-Length disagrees with Content-Range (the conformance suite sends 5 bytes as 4-9)',
      206,
      { 'content-range': 'bytes 4-9/10', 'content-length': '5' },
      { storable: false, reason: 'partial-length-mismatch' },
    ],
    [
      'multipart/byteranges',
      206,
      { 'content-type': 'multipart/byteranges; boundary=x' },
      { storable: false, reason: 'partial-multipart' },
    ],
  ])('%s', (_name, status, headers, expected) => {
    expect(describePart({ status, headers })).toEqual(expected);
  });
});

describe('decideAnswerStorable: a response to a GET, 206s and 416s included (RFC 9111 §3, §3.3)', () => {
  const range = { 'content-range': 'bytes 0-4/10', 'content-length': '5' };
  test.each<[string, number, HeaderMap, boolean, ReturnType<typeof decideAnswerStorable>]>([
    [
      'a 206 as a part, with its range',
      206,
      { 'cache-control': 'max-age=60', ...range },
      true,
      {
        storable: true,
        reason: 'storable',
        range: { start: 0, end: 4, length: 10 },
      },
    ],
    [
      'a 206 answering a fetch without Range is a part too',
      206,
      { 'cache-control': 'max-age=60', ...range },
      false,
      {
        storable: true,
        reason: 'storable',
        range: { start: 0, end: 4, length: 10 },
      },
    ],
    [
      "a 206 under the complete response's rules: no-store",
      206,
      { 'cache-control': 'no-store', ...range },
      true,
      {
        storable: false,
        reason: 'no-store',
      },
    ],
    [
      "a 206 under the complete response's rules: private",
      206,
      { 'cache-control': 'private', ...range },
      true,
      {
        storable: false,
        reason: 'private',
      },
    ],
    [
      'a 206 describePart refuses',
      206,
      { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-4/*' },
      true,
      {
        storable: false,
        reason: 'partial-unknown-length',
      },
    ],
    [
      'a 416 to a Range answers that Range, not the URL',
      416,
      { 'cache-control': 'max-age=60' },
      true,
      {
        storable: false,
        reason: 'range-not-satisfiable',
      },
    ],
    [
      'a 416 to a GET without Range: as decideStorable says',
      416,
      { 'cache-control': 'max-age=60' },
      false,
      {
        storable: true,
        reason: 'storable',
      },
    ],
    [
      'a 200 as decideStorable says',
      200,
      { 'cache-control': 'max-age=60' },
      true,
      { storable: true, reason: 'storable' },
    ],
  ])('%s', (_name, status, headers, carriedRange, expected) => {
    const res = { status, headers: { date: httpDate(0), ...headers } };
    expect(decideAnswerStorable(request(), res, options(), carriedRange)).toEqual(expected);
  });
});

describe('toPartEntry / asResponse: a part as an entry, and as the response it is', () => {
  test("its own variant and `*`-first vary, the part's size, the representation's variant in `part`", () => {
    const complete = entry({ 'cache-control': 'max-age=60' }, { variant: 'gzip', vary: ['accept-encoding'], size: -1 });
    const stored = toPartEntry(complete, { start: 2, end: 6, length: 10 });
    expect(stored).toMatchObject({
      variant: 'gzip\nbytes=2-6',
      vary: ['*', 'accept-encoding'],
      size: 5,
      part: { variant: 'gzip', start: 2, end: 6, length: 10 },
    });
    expect(asResponse(stored).vary).toEqual(['accept-encoding']);
    expect(stored.vary).toEqual(['*', 'accept-encoding']);
  });
});

describe('a part is never selected as a complete response (RFC 9111 §3.3, §4.1)', () => {
  test('its vary starts with * and names the selecting fields after it', () => {
    expect(partVary(['accept-encoding'])).toEqual(['*', 'accept-encoding']);
    expect(partVary(['*'])).toEqual(['*']);
  });

  test('selectVariant passes over it; selectParts finds it', () => {
    const stored = part(0, 4, 10);
    expect(isPart(stored)).toBe(true);
    expect(matchesVariant(stored, {})).toBe(false);
    expect(selectVariant([stored], {})).toBeUndefined();
    expect(selectParts([stored], {}).held).toEqual([stored]);
  });

  test('the part variant cannot be a complete variant (field values hold no line break, RFC 9110 §5.5)', () => {
    expect(partVariant('gzip', { start: 0, end: 4 })).toBe('gzip\nbytes=0-4');
  });

  test('selectParts matches the request headers the representation varies on', () => {
    const gzip = {
      ...part(0, 4, 10),
      vary: partVary(['accept-encoding']),
      varyValues: { 'accept-encoding': 'gzip' },
    };
    expect(selectParts([gzip], { 'accept-encoding': 'gzip' }).held).toEqual([gzip]);
    expect(selectParts([gzip], { 'accept-encoding': 'br' }).held).toEqual([]);
    expect(selectParts([gzip, entry()], {}).held).toEqual([]);
  });
});

describe('combinable: parts of one representation (RFC 9111 §3.4, RFC 9110 §8.8.2.2)', () => {
  const lastModified = httpDate(-3600);
  test.each<[string, HeaderMap, HeaderMap, boolean, number?]>([
    ['same strong ETag', { etag: '"a"' }, { etag: '"a"' }, true],
    ['different ETags', { etag: '"a"' }, { etag: '"b"' }, false],
    ['weak ETags never combine', { etag: 'W/"a"' }, { etag: 'W/"a"' }, false],
    ['one with an ETag, one without', { etag: '"a"' }, {}, false],
    ['no validator at all', {}, {}, false],
    [
      'same Last-Modified an hour before Date (strong)',
      { 'last-modified': lastModified },
      { 'last-modified': lastModified },
      true,
    ],
    ['different Last-Modified', { 'last-modified': lastModified }, { 'last-modified': httpDate(-7200) }, false],
    [
      'Last-Modified 30 s before Date is weak for an intermediate cache',
      { 'last-modified': httpDate(-30) },
      { 'last-modified': httpDate(-30) },
      false,
    ],
    ['same ETag but another complete length', { etag: '"a"' }, { etag: '"a"' }, false, 11],
  ])('%s', (_name, a, b, expected, lengthB = 10) => {
    expect(combinable(part(0, 4, 10, a), part(5, 9, lengthB, b))).toBe(expected);
  });

  test('selectParts: the newest part and those sharing its validator are held, the rest outdated', () => {
    const old = part(0, 4, 10, { etag: '"old"' }, -60);
    const newer = part(5, 9, 10, { etag: '"new"' }, -10);
    const sibling = part(0, 2, 10, { etag: '"new"' }, -20);
    expect(selectParts([old, sibling, newer], {})).toEqual({ held: [newer, sibling], outdated: [old] });
  });
});

describe('planFromParts: what stored parts can answer (RFC 9111 §3.3)', () => {
  const held = [part(4, 9, 10, { etag: '"x"' })];
  const plan = (headers: HeaderMap, method = 'GET'): PartsPlan => planFromParts(request(headers, method), held);
  const inside = (start: number, end: number, from: number, to: number): PartsPlan => ({
    kind: 'ranges',
    length: 10,
    ranges: [{ range: { start, end }, segments: [{ index: 0, from, to }] }],
  });
  test.each<[string, HeaderMap, PartsPlan, string?]>([
    ['bytes=6-8 inside', { range: 'bytes=6-8' }, inside(6, 8, 2, 4)],
    ['absent last-pos: bytes=6- is 6-9', { range: 'bytes=6-' }, inside(6, 9, 2, 5)],
    ['suffix: bytes=-1 is 9-9', { range: 'bytes=-1' }, inside(9, 9, 5, 5)],
    ['suffix: bytes=-5 is 5-9', { range: 'bytes=-5' }, inside(5, 9, 1, 5)],
    ['last-pos past the end is clamped: bytes=4-100', { range: 'bytes=4-100' }, inside(4, 9, 0, 5)],
    ['partly outside: bytes=3-5', { range: 'bytes=3-5' }, { kind: 'outside' }],
    ['wholly outside: bytes=0-1', { range: 'bytes=0-1' }, { kind: 'outside' }],
    ['suffix longer than what is held: bytes=-7', { range: 'bytes=-7' }, { kind: 'outside' }],
    ['one range of two outside', { range: 'bytes=5-6,0-1' }, { kind: 'outside' }],
    ['no Range: the complete response is asked for', {}, { kind: 'outside' }],
    ['an invalid Range is ignored: the complete response', { range: 'bytes=5-4' }, { kind: 'outside' }],
    ['another unit', { range: 'items=5-6' }, { kind: 'outside' }],
    ['HEAD has no range semantics', { range: 'bytes=5-6' }, { kind: 'outside' }, 'HEAD'],
    ['first-pos past the length: 416', { range: 'bytes=10-' }, { kind: 'unsatisfiable', length: 10 }],
    ['If-Range with the stored ETag holds', { range: 'bytes=6-8', 'if-range': '"x"' }, inside(6, 8, 2, 4)],
    ['If-Range with another ETag: the whole', { range: 'bytes=6-8', 'if-range': '"y"' }, { kind: 'outside' }],
  ])('%s', (_name, headers, expected, method = 'GET') => {
    expect(plan(headers, method)).toEqual(expected);
  });

  test('several ranges, each inside', () => {
    expect(plan({ range: 'bytes=4-4,8-9' })).toEqual({
      kind: 'ranges',
      length: 10,
      ranges: [
        { range: { start: 4, end: 4 }, segments: [{ index: 0, from: 0, to: 0 }] },
        { range: { start: 8, end: 9 }, segments: [{ index: 0, from: 4, to: 5 }] },
      ],
    });
  });

  test('a range across two adjacent parts reads both', () => {
    const two = [part(5, 9, 10, { etag: '"x"' }), part(0, 4, 10, { etag: '"x"' })];
    expect(planFromParts(request({ range: 'bytes=3-6' }), two)).toEqual({
      kind: 'ranges',
      length: 10,
      ranges: [
        {
          range: { start: 3, end: 6 },
          segments: [
            { index: 1, from: 3, to: 4 },
            { index: 0, from: 0, to: 1 },
          ],
        },
      ],
    });
  });

  test('nothing held: outside', () => {
    expect(planFromParts(request({ range: 'bytes=0-1' }), [])).toEqual({ kind: 'outside' });
  });
});

describe('combining parts (RFC 9111 §3.4, RFC 9110 §15.3.7.3)', () => {
  test.each<[string, [number, number][], boolean]>([
    ['one part of all bytes', [[0, 9]], true],
    [
      'two adjacent parts',
      [
        [0, 4],
        [5, 9],
      ],
      true,
    ],
    [
      'overlapping parts',
      [
        [0, 6],
        [3, 9],
      ],
      true,
    ],
    [
      'a gap',
      [
        [0, 3],
        [5, 9],
      ],
      false,
    ],
    ['a prefix', [[0, 8]], false],
    ['a suffix', [[1, 9]], false],
  ])('isWhole: %s', (_name, ranges, whole) => {
    expect(isWhole(ranges.map(([start, end]) => ({ variant: '', start, end, length: 10 })))).toBe(whole);
  });

  test('the combined response takes the newest header fields, without Content-Range, with the complete length', () => {
    const newest = part(5, 9, 10, { etag: '"x"', 'content-length': '5', 'x-new': '1' });
    const headers = combinedHeaders(newest);
    expect(headers['content-range']).toBeUndefined();
    expect(headers['content-length']).toBe('10');
    expect(headers['x-new']).toBe('1');
  });

  test('redundantParts: an older part inside another one goes; equal ranges keep the first (newest)', () => {
    const big = part(0, 9, 10, { etag: '"x"' });
    const small = part(2, 3, 10, { etag: '"x"' });
    const twin = part(0, 9, 10, { etag: '"x"' });
    expect(redundantParts([big, small, twin])).toEqual([small, twin]);
    expect(redundantParts([part(0, 4, 10), part(3, 9, 10)])).toEqual([]);
    // The newest part inside an older one stays: it is the one whose fields and freshness count (§3.4).
    expect(redundantParts([small, big])).toEqual([]);
  });
});

/** Arbitrary representation bytes with parts of it (as a sequence of 206s would bring them). */
const representationWithParts = fc.uint8Array({ minLength: 1, maxLength: 48 }).chain((bytes) =>
  fc.record({
    bytes: fc.constant(Buffer.from(bytes)),
    parts: fc.array(
      fc
        .tuple(fc.nat(bytes.length - 1), fc.nat(bytes.length - 1))
        .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
      { maxLength: 8 },
    ),
    asked: fc
      .tuple(fc.nat(bytes.length - 1), fc.nat(bytes.length - 1))
      .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
  }),
);

function isHeld(held: ByteRange[], position: number): boolean {
  return held.some((range) => range.start <= position && position <= range.end);
}

describe('properties: any parts stored serve exactly the origin bytes for any range inside them', () => {
  test('locateRange is defined exactly for ranges inside what is held, and reads the origin bytes', () => {
    fc.assert(
      fc.property(representationWithParts, ({ bytes, parts, asked }) => {
        // What the store holds for each part: exactly the origin's bytes of its range.
        const bodies = parts.map((range) => bytes.subarray(range.start, range.end + 1));
        const held = heldRanges(parts);
        const inside = Array.from({ length: asked.end - asked.start + 1 }, (_, i) => asked.start + i).every((p) =>
          isHeld(held, p),
        );
        const segments = locateRange(parts, asked);
        expect(segments !== undefined).toBe(inside);
        if (segments === undefined) return;
        const served = Buffer.concat(segments.map((s) => (bodies[s.index] as Buffer).subarray(s.from, s.to + 1)));
        expect(served.equals(bytes.subarray(asked.start, asked.end + 1))).toBe(true);
      }),
    );
  });

  test('parts that add up are whole, and the whole read from them is the origin body', () => {
    fc.assert(
      fc.property(representationWithParts, ({ bytes, parts }) => {
        const length = bytes.length;
        const whole = isWhole(parts.map((range) => ({ variant: '', length, ...range })));
        const everyByte = Array.from({ length }, (_, p) => p).every((p) => isHeld(heldRanges(parts), p));
        expect(whole).toBe(everyByte && parts.length > 0);
        if (!whole) return;
        const segments = locateRange(parts, { start: 0, end: length - 1 }) ?? [];
        const bodies = parts.map((range) => bytes.subarray(range.start, range.end + 1));
        const served = Buffer.concat(segments.map((s) => (bodies[s.index] as Buffer).subarray(s.from, s.to + 1)));
        expect(served.equals(bytes)).toBe(true);
      }),
    );
  });

  test('heldRanges are sorted, disjoint and not adjacent, and hold exactly the parts’ bytes', () => {
    fc.assert(
      fc.property(representationWithParts, ({ bytes, parts }) => {
        const held = heldRanges(parts);
        held.slice(1).forEach((range, i) => expect(range.start).toBeGreaterThan((held[i] as ByteRange).end + 1));
        for (let p = 0; p < bytes.length; p++) {
          expect(isHeld(held, p)).toBe(parts.some((range) => range.start <= p && p <= range.end));
        }
      }),
    );
  });

  test('dropping redundant parts keeps every byte held', () => {
    fc.assert(
      fc.property(representationWithParts, ({ bytes, parts }) => {
        const entries = parts.map((range) => part(range.start, range.end, bytes.length, { etag: '"x"' }));
        const redundant = new Set(redundantParts(entries));
        const kept = entries.filter((e) => !redundant.has(e)).map((e) => e.part);
        expect(heldRanges(kept)).toEqual(heldRanges(parts));
      }),
    );
  });
});
