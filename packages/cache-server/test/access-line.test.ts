/**
 * Issue 17: the access log's two line formats are written by hand (src/access-line.ts), for their
 * cost per hit; these properties hold them to what JSON.stringify and nginx would write, for any
 * path, method, rule and header a client can send: each JSON line parses and gives back the very
 * strings, each `combined` line is one line an nginx-combined regex reads, its fields unescaped
 * to the strings sent. (The lines of real requests through a cache: access-log.test.ts.)
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { IncomingMessage } from 'node:http';
import { combinedLine, jsonLine, redactQuery, type AccessRecord } from '../src/access-line.js';

/**
 * nginx's `combined` plus the cache's tail (X-Cache, fwd, rule, request time, origin time,
 * request id): the regex a log tool configured for nginx uses.
 */
export const COMBINED =
  /^(?<addr>\S+) - (?<user>\S+) \[(?<time>\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(?<method>\S+) (?<path>\S+) HTTP\/(?<version>[12](?:\.[01])?)" (?<status>\d{3}) (?<bytes>\d+) "(?<referer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)" (?<cache>\S+) (?<fwd>\S+) (?<rule>\S+) (?<rt>\d+\.\d{3}) (?<urt>\d+\.\d{3}|-) (?<id>\S+)$/;

/** nginx's `\xHH` back to the character (HTTP/1.1 fields are one character per byte). */
const unescapeNginx = (text: string) =>
  text.replace(/\\x([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

/** What a client can put in a field: any character, weighted towards the ones that need escaping. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\r', '\t', '\0', '\x7f', ' ', '\u2028', '\ud800', '\udc00', 'é', '€'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 40,
});
/** One character per byte, as Node's HTTP/1.1 parser hands fields over. */
const latin1Text = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\x01', '\x7f', '\xff', ' '),
    fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)),
  ),
  maxLength: 40,
});

const latin1Word = latin1Text.filter((text) => text !== '');
/** A rule's name as latin1 text (`combined` writes a character past latin1 as `?`, which cannot round-trip). */
// eslint-disable-next-line no-control-regex -- every character past latin1
const latin1Rule = (text: string) => text.replace(/[^\x00-\xff]/g, '');

const durations = fc.oneof(
  fc.double({ min: 0, max: 1e7, noNaN: true }),
  fc.constantFrom(0, 0.0004, 0.0005, 0.9995, 999.9999, 2147483.648, 1e9),
);

const records = fc.record({
  method: anyText.filter((text) => text !== ''),
  target: anyText,
  status: fc.constantFrom(0, 200, 206, 304, 404, 502),
  bytes: fc.nat(),
  xCache: fc.constantFrom('', 'HIT', 'MISS', 'BYPASS'),
  fwd: fc.option(fc.constantFrom('uri-miss', 'method', 'stale'), { nil: undefined }),
  rule: anyText,
  errorCode: fc.constantFrom('', 'CACHE_ERR_ORIGIN_UNREACHABLE'),
  startedAt: fc.integer({ min: 0, max: 4102444800000 }),
  durationMs: durations,
  originMs: fc.option(durations, { nil: undefined }),
  aborted: fc.boolean(),
});

type Generated = typeof records extends fc.Arbitrary<infer T> ? T : never;

function recordOf(generated: Generated): AccessRecord {
  const { fwd, ...rest } = generated;
  return { ...rest, cacheStatus: fwd === undefined ? {} : { fwd }, xCache: generated.xCache as AccessRecord['xCache'] };
}

const BASE: AccessRecord = {
  method: 'GET',
  target: '/',
  status: 200,
  bytes: 5,
  xCache: 'HIT',
  cacheStatus: {},
  rule: '',
  errorCode: '',
  startedAt: 1_796_000_000_000,
  durationMs: 1.5,
  originMs: undefined,
  aborted: false,
};

function requestOf(headers: Record<string, string | undefined>, httpVersion = '1.1'): IncomingMessage {
  return { socket: { remoteAddress: '::ffff:127.0.0.1' }, headers, httpVersion } as unknown as IncomingMessage;
}

interface JsonLine {
  level: number;
  time: number;
  method: string;
  path: string;
  status: number;
  bytes: number;
  rule?: string;
  ms: number;
  originMs?: number;
  aborted?: boolean;
}

describe('json lines', () => {
  test('every line is one line of valid JSON that gives back the method, path and rule as they were', () => {
    fc.assert(
      fc.property(records, anyText, (generated, path) => {
        const record = recordOf(generated);
        const line = jsonLine(record, requestOf({}), path);
        expect(line.endsWith('}\n')).toBe(true);
        expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
        const parsed = JSON.parse(line) as JsonLine;
        expect(parsed).toMatchObject({
          level: 30,
          time: record.startedAt,
          method: record.method,
          path,
          status: record.status,
          bytes: record.bytes,
        });
        expect(parsed.rule).toBe(record.rule === '' ? undefined : record.rule);
        expect(parsed.aborted).toBe(record.aborted ? true : undefined);
        // Milliseconds to the microsecond, as JSON.stringify of the rounded value would have said.
        expect(parsed.ms).toBeCloseTo(Math.round(record.durationMs * 1000) / 1000, 3);
        if (record.originMs === undefined) expect(parsed.originMs).toBeUndefined();
        else expect(parsed.originMs).toBeCloseTo(Math.round(record.originMs * 1000) / 1000, 3);
      }),
      { numRuns: 500 },
    );
  });

  test('a lone surrogate (an HTTP/2 path) survives as \\uXXXX, not as U+FFFD', () => {
    const line = jsonLine(BASE, requestOf({}), '/\ud800');
    expect(line).toContain('"path":"/\\ud800"');
    expect((JSON.parse(Buffer.from(line).toString()) as JsonLine).path).toBe('/\ud800');
  });
});

describe('combined lines', () => {
  test('every line matches an nginx-combined regex; the quoted fields unescape to what was sent', () => {
    fc.assert(
      fc.property(
        records,
        latin1Word,
        latin1Word,
        latin1Text,
        latin1Text,
        (generated, method, path, referer, agent) => {
          const record = { ...recordOf(generated), method, rule: latin1Rule(generated.rule) };
          const line = combinedLine(record, requestOf({ referer, 'user-agent': agent }), path);
          expect(line.endsWith('\n')).toBe(true);
          const groups = COMBINED.exec(line.slice(0, -1))?.groups;
          expect(groups).toBeDefined();
          if (groups === undefined) return;
          expect(unescapeNginx(groups.referer as string)).toBe(referer === '' ? '-' : referer);
          expect(unescapeNginx(groups.agent as string)).toBe(agent === '' ? '-' : agent);
          expect(unescapeNginx(groups.path as string)).toBe(path);
          expect(unescapeNginx(groups.method as string)).toBe(record.method);
          expect(groups.status).toBe(String(record.status === 0 ? 499 : record.status));
          expect(groups.bytes).toBe(String(record.bytes));
          expect(Number(groups.rt)).toBeCloseTo(Math.round(record.durationMs) / 1000, 3);
          expect(groups.urt === '-').toBe(record.originMs === undefined);
          expect(unescapeNginx(groups.rule as string)).toBe(record.rule === '' ? '-' : record.rule);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('fields past latin1 (an HTTP/2 header) still make one parseable line', () => {
    fc.assert(
      fc.property(
        records,
        anyText.filter((text) => text !== ''),
        anyText,
        (generated, path, agent) => {
          const line = combinedLine(recordOf(generated), requestOf({ 'user-agent': agent }, '2.0'), path);
          expect(COMBINED.test(line.slice(0, -1))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the query string', () => {
  test.each([
    ['/a', '/a'],
    ['/a?token=1', '/a?[Redacted]'],
    ['/a?', '/a?[Redacted]'],
    ['?x', '?[Redacted]'],
  ])('%s → %s', (target, logged) => {
    expect(redactQuery(target)).toBe(logged);
  });
});
