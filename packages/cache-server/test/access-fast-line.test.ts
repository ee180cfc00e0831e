/**
 * Issue 17: a fast hit's access line is written as bytes from a fragment kept per stored response
 * and second (src/access-fast-line.ts), for its cost per hit. It must be the very line the general
 * formatter (src/access-line.ts, itself held to JSON.parse and an nginx regex in
 * access-line.test.ts) writes for the same Outcome: these properties compare the two, byte for
 * byte, over methods, paths and queries with every character that needs escaping, statuses,
 * rules, referers, user agents, addresses and durations, with fragments reused across records
 * that share a `cacheStatus` object and records that must not reuse them. (Real fast hits through
 * a cache: access-log.test.ts.)
 */
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { CacheStatusInfo } from '@simple-cache/common';
import { fastCombinedWriter, fastJsonWriter, NO_ROOM, NOT_FAST, type FastLineWriter } from '../src/access-fast-line.js';
import { combinedLine, jsonLine, redactQuery, type AccessRecord } from '../src/access-line.js';
import { assignRequestId, requestIdOf } from '../src/logger.js';

/** Any character, weighted towards the ones JSON or nginx escape. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', '\\', '\n', '\t', '\0', '\x7f', ' ', '?', '\u2028', '\ud800', '\udc00', 'é', '€', '😀'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)),
  ),
  maxLength: 30,
});
const methods = fc.oneof(
  fc.constantFrom('GET', 'HEAD'),
  anyText.filter((text) => text !== ''),
);
const paths = fc
  .tuple(anyText, fc.option(anyText, { nil: undefined }))
  .map(([path, query]) => (query === undefined ? `/${path}` : `/${path}?${query}`));
const durations = fc.oneof(
  fc.double({ min: 0, max: 1e7, noNaN: true }),
  fc.constantFrom(0, 0.0004, 0.0005, 0.9995, 999.9999, 2147483.648, 1e9, Number.NaN),
);
/** The cacheStatus objects records share: a fragment is kept per object. */
const STATUSES: CacheStatusInfo[] = [
  { hit: true, ttl: 10 },
  { hit: true, ttl: 9, detail: 'rule' },
  { hit: true, ttl: 8, fwd: 'stale' },
];

const records = fc.record({
  method: methods,
  target: paths,
  status: fc.constantFrom(0, 200, 203, 206, 404),
  bytes: fc.constantFrom(0, 5, 1024, 2 ** 31 + 1),
  xCache: fc.constantFrom('', 'HIT', 'MISS'),
  shared: fc.nat({ max: STATUSES.length - 1 }),
  rule: fc.oneof(fc.constant(''), anyText),
  startedAt: fc.integer({ min: 0, max: 4102444800000 }),
  durationMs: durations,
});

/** A field line: its name in any case, as clients send them. */
const fieldLine = (name: string) =>
  fc.tuple(fc.constantFrom(name, name.toUpperCase(), name[0]?.toUpperCase() + name.slice(1)), anyText);
const requests = fc.record({
  address: fc.option(fc.constantFrom<string>('127.0.0.1', '::ffff:10.0.0.7', '2001:db8::1'), { nil: undefined }),
  /** Referer and User-Agent lines, none, one or repeated (Node keeps the first), among others. */
  fields: fc.array(fc.oneof(fieldLine('referer'), fieldLine('user-agent'), fieldLine('accept')), { maxLength: 5 }),
  httpVersion: fc.constantFrom<string>('1.0', '1.1', '2.0'),
  assigned: fc.boolean(),
});

type GeneratedRecord = typeof records extends fc.Arbitrary<infer T> ? T : never;
type GeneratedRequest = typeof requests extends fc.Arbitrary<infer T> ? T : never;

function recordOf({ shared, ...fields }: GeneratedRecord): AccessRecord {
  return {
    ...fields,
    route: 'fast-hit',
    xCache: fields.xCache as AccessRecord['xCache'],
    cacheStatus: STATUSES[shared] as CacheStatusInfo,
    errorCode: '',
    originMs: undefined,
    aborted: false,
  };
}

/**
 * A request as Node hands it over: an IncomingMessage with its field lines as received
 * (`rawHeaders`) and `req.headers` built from them by Node on first access (the oracle for which
 * of repeated lines counts), its socket's address, its version.
 */
function requestOf({ address, fields, httpVersion, assigned }: GeneratedRequest): IncomingMessage {
  const req = new IncomingMessage({ remoteAddress: address } as unknown as Socket);
  const raw = ['Host', 'cache.example', ...fields.flat()];
  req.rawHeaders = raw;
  (req as unknown as { _addHeaderLines(lines: string[], count: number): void })._addHeaderLines(raw, raw.length);
  req.httpVersion = httpVersion;
  req.httpVersionMajor = Number(httpVersion[0]);
  // Fastify gives the id of a request it sees; a fast hit takes the next one when its line is written.
  if (assigned) assignRequestId(req);
  return req;
}

type Format = typeof jsonLine;

/** The request id of a line: JSON's `reqId`, combined's last field. */
function idOf(line: string): string {
  const id = (/"reqId":"([^"]+)"/.exec(line) ?? / (\S+)\n$/.exec(line))?.[1];
  if (id === undefined) throw new Error(`no request id in ${line}`);
  return id;
}

/**
 * The fast line and the general one for the same record. A request Fastify never saw gets an id
 * from each (consecutive numbers): the general line is compared with the fast line's id put back.
 */
function bothLines(
  writer: FastLineWriter,
  format: Format,
  record: AccessRecord,
  req: IncomingMessage,
  path: string,
  assigned: boolean,
) {
  const into = Buffer.alloc(64 * 1024, 0x23);
  const end = writer(record, req, into, 3);
  expect(end).toBeGreaterThan(3);
  expect(into[end]).toBe(0x23);
  const fast = into.subarray(3, end).toString('latin1');
  let general = format(record, req, path);
  const fastId = idOf(fast);
  const generalId = idOf(general);
  if (assigned) expect(generalId).toBe(fastId);
  else {
    expect(parseInt(generalId.slice(4), 36)).toBe(parseInt(fastId.slice(4), 36) + 1);
    general = general.endsWith(` ${generalId}\n`)
      ? `${general.slice(0, -generalId.length - 1)}${fastId}\n`
      : general.replace(`"reqId":"${generalId}"`, `"reqId":"${fastId}"`);
  }
  return { fast: into.subarray(3, end), general: Buffer.from(general) };
}

const CASES: [string, (pathOf: (target: string) => string) => FastLineWriter, Format][] = [
  ['json', fastJsonWriter, jsonLine],
  ['combined', fastCombinedWriter, combinedLine],
];

describe.each(CASES)('%s: the fast line is the general line, byte for byte', (_name, makeWriter, format) => {
  test.each([
    ['redacted', redactQuery],
    ['as sent', (target: string) => target],
  ])('queries %s; records in sequence, some sharing a cacheStatus object', (_query, pathOf) => {
    const writer = makeWriter(pathOf);
    fc.assert(
      fc.property(fc.array(fc.tuple(records, requests), { minLength: 1, maxLength: 6 }), (sequence) => {
        for (const [generated, request] of sequence) {
          const record = recordOf(generated);
          const req = requestOf(request);
          const { fast, general } = bothLines(writer, format, record, req, pathOf(record.target), request.assigned);
          expect(fast.toString('latin1')).toBe(general.toString('latin1'));
        }
      }),
      { numRuns: 400 },
    );
  });

  // The same stored response (one cacheStatus object) hit by requests that differ in one field:
  // GET then HEAD, another query, a rule reloaded, another protocol version…
  test.each<[string, Partial<AccessRecord>, string]>([
    ['method', { method: 'HEAD', bytes: 0 }, '1.1'],
    ['method alone', { method: 'HEAD' }, '1.1'],
    ['target', { target: '/a?x=1' }, '1.1'],
    ['status', { status: 203 }, '1.1'],
    ['bytes', { bytes: 6 }, '1.1'],
    ['X-Cache', { xCache: 'MISS' }, '1.1'],
    ['rule', { rule: 'docs' }, '1.1'],
    ['HTTP version', {}, '1.0'],
  ])('one stored response, the next hit differs in its %s: each line its own fields', (_field, change, version) => {
    const writer = makeWriter((target) => target);
    const base: AccessRecord = {
      ...recordOf(fc.sample(records, 1)[0] as GeneratedRecord),
      ...{ method: 'GET', target: '/a', status: 200, bytes: 5, xCache: 'HIT', rule: '' },
    };
    const request = { address: '127.0.0.1', fields: [['User-Agent', 'curl']] as [string, string][], assigned: true };
    for (const [record, httpVersion] of [
      [base, '1.1'],
      [{ ...base, ...change }, version],
      [base, '1.1'],
    ] as const) {
      const req = requestOf({ ...request, httpVersion });
      const { fast, general } = bothLines(writer, format, record, req, record.target, true);
      expect(fast.toString('latin1')).toBe(general.toString('latin1'));
    }
  });

  // JSON's time is written over the last one's digits while they are as many: every width change,
  // in both directions, and times that are not whole numbers.
  test('times in sequence: the same millisecond, the next, wider, narrower, not whole', () => {
    const writer = makeWriter((target) => target);
    const base: AccessRecord = {
      ...recordOf(fc.sample(records, 1)[0] as GeneratedRecord),
      ...{ method: 'GET', target: '/a', status: 200, bytes: 5, xCache: 'HIT', rule: '' },
    };
    const request = { address: '127.0.0.1', fields: [] as [string, string][], httpVersion: '1.1', assigned: true };
    const times = [
      1_796_591_760_203, 1_796_591_760_203, 1_796_591_760_204, 1_796_591_761_000, 9_999_999_999_999, 10_000_000_000_000,
      10_000_000_000_001, 999, 1000, 999, 9, 0, 0, 1, 2.5, 3, 1_796_591_760_205, 1_796_591_760_204,
    ];
    for (const startedAt of times) {
      const record = { ...base, startedAt };
      const { fast, general } = bothLines(writer, format, record, requestOf(request), record.target, true);
      expect(fast.toString('latin1')).toBe(general.toString('latin1'));
    }
  });

  test('anything but a plain fast hit is left to the general formatter; nothing written, no id taken', () => {
    const writer = makeWriter(redactQuery);
    const base = recordOf(fc.sample(records, 1)[0] as GeneratedRecord);
    const into = Buffer.alloc(4096, 0x23);
    const req = requestOf({ address: '127.0.0.1', fields: [], httpVersion: '1.1', assigned: false });
    for (const other of [
      { route: 'serve' as const },
      { route: undefined },
      { originMs: 3 },
      { errorCode: 'CACHE_ERR_ORIGIN_UNREACHABLE' },
      { aborted: true },
    ]) {
      expect(writer({ ...base, ...other }, req, into, 0)).toBe(NOT_FAST);
    }
    // Too little room: NO_ROOM, and the request id is still the next one.
    const before = requestIdOf(requestOf({ address: undefined, fields: [], httpVersion: '1.1', assigned: false }));
    expect(writer(base, req, into, into.length - 40)).toBe(NO_ROOM);
    const after = requestIdOf(requestOf({ address: undefined, fields: [], httpVersion: '1.1', assigned: false }));
    expect(parseInt(after.slice(4), 36)).toBe(parseInt(before.slice(4), 36) + 1);
    expect(into.every((byte) => byte === 0x23)).toBe(true);
  });
});
