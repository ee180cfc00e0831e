import { describe, expect, test } from '@jest/globals';
import {
  MAX_RANGES,
  contentRange,
  ifRangeAllows,
  multipartByteranges,
  parseRange,
  unsatisfiedContentRange,
} from '../../src/policy/range.js';
import type { ByteRange } from '../../src/store/store.js';
import type { HeaderMap } from '../../src/policy/types.js';
import { entry, httpDate, request } from './fixtures.js';

type Parsed = ReturnType<typeof parseRange>;

describe('parseRange (RFC 9110 §14.1.2, §14.2)', () => {
  test.each<[string, string | undefined, number, Parsed]>([
    ['no Range → whole', undefined, 10, undefined],
    ['first-last', 'bytes=0-1', 11, [{ start: 0, end: 1 }]],
    ['first- (to the end)', 'bytes=1-', 11, [{ start: 1, end: 10 }]],
    ['-suffix', 'bytes=-1', 11, [{ start: 10, end: 10 }]],
    ['suffix longer than the body → all of it', 'bytes=-50', 10, [{ start: 0, end: 9 }]],
    ['last beyond the end is clamped', 'bytes=5-100', 10, [{ start: 5, end: 9 }]],
    ['single byte', 'bytes=3-3', 10, [{ start: 3, end: 3 }]],
    ['unit is case-insensitive', 'Bytes=0-1', 10, [{ start: 0, end: 1 }]],
    [
      'whitespace around members tolerated',
      'bytes= 0-1 , 4-5',
      10,
      [
        { start: 0, end: 1 },
        { start: 4, end: 5 },
      ],
    ],
    [
      'several ranges',
      'bytes=0-1,4-5',
      10,
      [
        { start: 0, end: 1 },
        { start: 4, end: 5 },
      ],
    ],
    [
      'several ranges sorted',
      'bytes=6-7,0-1',
      10,
      [
        { start: 0, end: 1 },
        { start: 6, end: 7 },
      ],
    ],
    ['overlapping ranges coalesced', 'bytes=0-4,2-7', 10, [{ start: 0, end: 7 }]],
    ['adjacent ranges coalesced', 'bytes=0-1,2-3', 10, [{ start: 0, end: 3 }]],
    ['contained range coalesced', 'bytes=0-8,2-3', 10, [{ start: 0, end: 8 }]],
    ['suffix overlapping a range coalesced', 'bytes=0-7,-5', 10, [{ start: 0, end: 9 }]],
    ['unsatisfiable members skipped when others are fine', 'bytes=50-60,0-1', 10, [{ start: 0, end: 1 }]],
    ['empty list members ignored (RFC 9110 §5.6.1)', 'bytes=0-1,,', 10, [{ start: 0, end: 1 }]],
    ['first-pos at the end → 416', 'bytes=10-', 10, 'unsatisfiable'],
    ['first-pos beyond the end → 416', 'bytes=20-30', 10, 'unsatisfiable'],
    ['-0 → 416', 'bytes=-0', 10, 'unsatisfiable'],
    ['all unsatisfiable → 416', 'bytes=10-11,-0', 10, 'unsatisfiable'],
    ['empty body: int-range → 416', 'bytes=0-0', 0, 'unsatisfiable'],
    ['empty body: suffix → whole (nothing to send but all of it)', 'bytes=-5', 0, undefined],
    ['last < first is invalid → whole (§14.1.1)', 'bytes=5-3', 10, undefined],
    ['one invalid spec invalidates the field', 'bytes=0-1,5-3', 10, undefined],
    ['other unit → whole (§14.2)', 'items=0-1', 10, undefined],
    ['no "=" → whole', 'bytes 0-1', 10, undefined],
    ['bare "-" → whole', 'bytes=-', 10, undefined],
    ['no specs → whole', 'bytes=', 10, undefined],
    ['signs are not digits → whole', 'bytes=+1-2', 10, undefined],
    ['letters → whole', 'bytes=a-b', 10, undefined],
    ['space inside a spec → whole', 'bytes=0 -1', 10, undefined],
    ['decimals → whole', 'bytes=0.5-1', 10, undefined],
    [
      `${MAX_RANGES} specs accepted`,
      `bytes=${Array.from({ length: MAX_RANGES }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`,
      100,
      Array.from({ length: MAX_RANGES }, (_, i) => ({ start: i * 2, end: i * 2 })),
    ],
    [
      'too many specs → whole (abuse guard)',
      `bytes=${Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i}-${i}`).join(',')}`,
      100,
      undefined,
    ],
  ])('%s', (_rule, header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('ifRangeAllows (RFC 9110 §13.1.5)', () => {
  const LM = httpDate(-3600);
  const stored = entry({ etag: '"abc"', 'last-modified': LM });

  test.each<[string, HeaderMap, HeaderMap, boolean]>([
    ['no If-Range → allowed', {}, {}, true],
    ['strong ETag equal → allowed', { 'if-range': '"abc"' }, {}, true],
    ['other ETag → whole', { 'if-range': '"xyz"' }, {}, false],
    ['weak ETag never matches (strong comparison)', { 'if-range': 'W/"abc"' }, {}, false],
    ['stored ETag weak → whole', { 'if-range': '"abc"' }, { etag: 'W/"abc"' }, false],
    ['no stored ETag → whole', { 'if-range': '"abc"' }, { etag: undefined }, false],
    ['exact Last-Modified, a strong one (Date ≥ 1 s later) → allowed', { 'if-range': LM }, {}, true],
    ['other date → whole', { 'if-range': httpDate(-100) }, {}, false],
    [
      'Last-Modified equal to Date is weak (§8.8.2.2) → whole',
      { 'if-range': httpDate(0) },
      { 'last-modified': httpDate(0) },
      false,
    ],
    ['no stored Last-Modified → whole', { 'if-range': LM }, { 'last-modified': undefined }, false],
    ['invalid date → whole', { 'if-range': 'yesterday' }, {}, false],
  ])('%s', (_rule, reqHeaders, storedHeaders, expected) => {
    const candidate = entry({ etag: '"abc"', 'last-modified': LM, ...storedHeaders });
    expect(ifRangeAllows(request(reqHeaders), Object.keys(storedHeaders).length ? candidate : stored)).toBe(expected);
  });
});

describe('Content-Range and multipart/byteranges (RFC 9110 §14.4, §14.6)', () => {
  test.each<[string, ByteRange, number, string]>([
    ['first bytes', { start: 0, end: 1 }, 11, 'bytes 0-1/11'],
    ['last byte', { start: 10, end: 10 }, 11, 'bytes 10-10/11'],
  ])('contentRange: %s', (_rule, range, size, expected) => {
    expect(contentRange(range, size)).toBe(expected);
  });

  test('416 reports the complete length (§15.5.17)', () => {
    expect(unsatisfiedContentRange(10)).toBe('bytes */10');
  });

  test('multipart layout: boundaries, part headers, exact length', () => {
    const ranges = [
      { start: 0, end: 1 },
      { start: 5, end: 7 },
    ];
    const plan = multipartByteranges(ranges, 10, 'text/plain', 'B0UND');
    expect(plan.contentType).toBe('multipart/byteranges; boundary=B0UND');
    expect(plan.parts.map((p) => p.head)).toEqual([
      '--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n',
      '\r\n--B0UND\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-7/10\r\n\r\n',
    ]);
    expect(plan.tail).toBe('\r\n--B0UND--\r\n');
    const body = '0123456789';
    const assembled = plan.parts.map((p) => p.head + body.slice(p.range.start, p.range.end + 1)).join('') + plan.tail;
    expect(Buffer.byteLength(assembled)).toBe(plan.length);
  });

  test('multipart without a stored Content-Type leaves it out of the parts', () => {
    const plan = multipartByteranges([{ start: 0, end: 0 }], 1, undefined, 'b');
    expect(plan.parts[0]?.head).toBe('--b\r\nContent-Range: bytes 0-0/1\r\n\r\n');
  });
});
