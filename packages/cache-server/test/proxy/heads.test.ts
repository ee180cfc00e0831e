import { describe, expect, test } from '@jest/globals';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import { ERRORS } from '../../src/errors.js';
import { FIELDS_LEFT_OUT_OF_NOT_MODIFIED } from '../../src/policy/index.js';
import {
  contentLengthOf,
  errorResponse,
  fetchedHead,
  headRulesFrom,
  relayedHead,
  storedHead,
  type StoredAs,
} from '../../src/proxy/respond/heads.js';
import { WHOLE } from '../../src/proxy/respond/range-serving.js';

/** respond/heads.ts: every head the cache writes, one table row per header rule. */
const RULES = headRulesFrom(
  { name: 'edge', tagHeaders: ['surrogate-key'] },
  { targetedField: 'cdn-cache-control', stripTargetedField: false },
);
const STRIPPING = headRulesFrom(
  { name: 'edge', tagHeaders: ['surrogate-key'] },
  { targetedField: 'cdn-cache-control', stripTargetedField: true },
);

function entry(headers: HeaderMap, overrides: Partial<EntryMeta> = {}): EntryMeta {
  return {
    key: 'http://origin.test/x',
    variant: '',
    vary: [],
    varyValues: {},
    status: 200,
    headers,
    requestTime: 0,
    responseTime: 0,
    size: 5,
    bodyId: 'b1',
    checksum: '',
    ...overrides,
  } as EntryMeta;
}

const HIT: StoredAs = { xCache: 'HIT', status: { hit: true, ttl: 60 }, age: 3.9, withoutValidation: true };

describe('storedHead', () => {
  test.each<[string, HeaderMap, StoredAs, Record<string, string | undefined>]>([
    ['Age in whole seconds', {}, HIT, { age: '3' }],
    ['Content-Length from the stored size', {}, HIT, { 'content-length': '5' }],
    ['Accept-Ranges on a 200', {}, HIT, { 'accept-ranges': 'bytes' }],
    [
      'our X-Cache, Cache-Status and Via',
      {},
      HIT,
      { 'x-cache': 'HIT', 'cache-status': 'edge; hit; ttl=60', via: '1.1 edge' },
    ],
    [
      'members after upstream ones',
      { via: '1.1 cdn', 'cache-status': 'cdn; hit' },
      HIT,
      { via: '1.1 cdn, 1.1 edge', 'cache-status': 'cdn; hit, edge; hit; ttl=60' },
    ],
    ['purge tags never sent', { 'surrogate-key': 'a b' }, HIT, { 'surrogate-key': undefined }],
    ['private="…" fields never sent', { 'cache-control': 'private="x-a"', 'x-a': '1' }, HIT, { 'x-a': undefined }],
    [
      'no-cache="…" fields not sent unvalidated',
      { 'cache-control': 'no-cache="x-b"', 'x-b': '1' },
      HIT,
      { 'x-b': undefined },
    ],
    [
      'no-cache="…" fields sent once validated',
      { 'cache-control': 'no-cache="x-b"', 'x-b': '1' },
      { ...HIT, withoutValidation: false },
      { 'x-b': '1' },
    ],
    [
      'private="…" in the targeted field counts',
      { 'cdn-cache-control': 'private="x-c"', 'x-c': '1' },
      HIT,
      { 'x-c': undefined, 'cdn-cache-control': 'private="x-c"' },
    ],
  ])('%s', (_rule, headers, as, expected) => {
    const head = storedHead(entry(headers), as, WHOLE, RULES);
    expect(head.status).toBe(200);
    for (const [name, value] of Object.entries(expected)) expect(head.headers[name]).toBe(value);
  });

  test('the targeted field is dropped when --strip-targeted-field says so', () => {
    const head = storedHead(entry({ 'cdn-cache-control': 'max-age=60' }), HIT, WHOLE, STRIPPING);
    expect(head.headers['cdn-cache-control']).toBeUndefined();
  });

  test('no Content-Length or Accept-Ranges for a stored 204; Accept-Ranges only on a 200', () => {
    expect(storedHead(entry({}, { status: 204, size: 0 }), HIT, WHOLE, RULES).headers).not.toHaveProperty(
      'content-length',
    );
    expect(storedHead(entry({}, { status: 203 }), HIT, WHOLE, RULES).headers).not.toHaveProperty('accept-ranges');
  });

  test('ranges: 206 with Content-Range, 416 with bytes */size', () => {
    const single = storedHead(entry({}), HIT, { kind: 'single', range: { start: 1, end: 2 } }, RULES);
    expect(single).toMatchObject({ status: 206, headers: { 'content-range': 'bytes 1-2/5', 'content-length': '2' } });
    const none = storedHead(entry({}), HIT, { kind: 'unsatisfiable' }, RULES);
    expect(none).toMatchObject({ status: 416, headers: { 'content-range': 'bytes */5', 'content-length': '0' } });
  });
});

describe('the one 304 field list (RFC 9110 §15.4.5)', () => {
  const described = {
    'content-length': '5',
    'content-type': 'text/plain',
    'content-encoding': 'gzip',
    'content-range': 'bytes 0-4/5',
    digest: 'sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=',
    etag: '"e"',
    'cache-control': 'max-age=60',
  };

  test('a 304 from storage and a 304 to a fetched response leave out the same fields', () => {
    const stored = storedHead(entry(described), HIT, { kind: 'not-modified' }, RULES);
    const fetched = fetchedHead(
      { status: 200, headers: described },
      { xCache: 'MISS', status: { fwd: 'uri-miss' }, collapsed: false },
      { kind: 'not-modified' },
      RULES,
    );
    for (const head of [stored, fetched]) {
      expect(head.status).toBe(304);
      for (const name of FIELDS_LEFT_OUT_OF_NOT_MODIFIED) expect(head.headers).not.toHaveProperty(name);
      expect(head.headers).toMatchObject({ etag: '"e"', 'cache-control': 'max-age=60' });
    }
  });
});

describe('fetchedHead and relayedHead', () => {
  test('a collapsed client never gets the fetching client’s Set-Cookie', () => {
    const response = { status: 200, headers: { 'set-cookie': 'a=1', 'content-length': '5' } };
    const as = { xCache: 'MISS' as const, status: { fwd: 'uri-miss' as const } };
    expect(fetchedHead(response, { ...as, collapsed: true }, WHOLE, RULES).headers['set-cookie']).toBeUndefined();
    expect(fetchedHead(response, { ...as, collapsed: false }, WHOLE, RULES).headers['set-cookie']).toBe('a=1');
  });

  test('hop-by-hop fields are not relayed; the targeted field only when forwarded', () => {
    const response = { status: 201, headers: { connection: 'x-hop', 'x-hop': '1', 'cdn-cache-control': 'no-store' } };
    const relayed = relayedHead(response, 'BYPASS', { fwd: 'method', fwdStatus: 201 }, RULES);
    expect(relayed.status).toBe(201);
    expect(relayed.headers).not.toHaveProperty('x-hop');
    expect(relayed.headers['cdn-cache-control']).toBe('no-store');
    expect(relayedHead(response, 'BYPASS', {}, STRIPPING).headers).not.toHaveProperty('cdn-cache-control');
    expect(relayed.headers['cache-status']).toBe('edge; fwd=method; fwd-status=201');
  });
});

describe('errorResponse: the proxy’s and the limits’ errors', () => {
  test.each([
    [ERRORS.originUnreachable, 'MISS'],
    [ERRORS.badRequestTarget, 'BYPASS'],
  ])('%j', (spec, xCache) => {
    const error = errorResponse(spec, 'edge', { fwd: 'miss' });
    expect(error.status).toBe(spec.status);
    expect(error.body).toBe(`${spec.status} ${spec.message} (${spec.code})\n`);
    expect(error.headers).toMatchObject({
      'content-length': String(Buffer.byteLength(error.body)),
      'cache-control': 'no-store',
      'x-cache-error': spec.code,
      'x-cache': xCache,
      'cache-status': `edge; fwd=miss; detail=${spec.code}`,
      via: '1.1 edge',
    });
    expect(error.headers).not.toHaveProperty('connection');
    expect(error.headers).not.toHaveProperty('retry-after');
  });

  test('a pass-through names itself whatever failed', () => {
    expect(errorResponse(ERRORS.originUnreachable, 'edge', {}, { xCache: 'BYPASS' }).headers['x-cache']).toBe('BYPASS');
  });

  test('closing the connection and Retry-After, for refusals', () => {
    const error = errorResponse(ERRORS.overloaded, 'edge', {}, { close: true, retryAfterSeconds: 2 });
    expect(error.headers).toMatchObject({ connection: 'close', 'retry-after': '2' });
  });
});

describe('contentLengthOf: the one Content-Length parse', () => {
  test.each<[string | string[] | undefined, number | undefined]>([
    ['0', 0],
    ['1024', 1024],
    [' 12 ', 12],
    [undefined, undefined],
    ['', undefined],
    ['-1', undefined],
    ['1e3', undefined],
    ['0x10', undefined],
    ['1.5', undefined],
    ['12, 12', undefined],
    ['99999999999999999999', undefined],
    [['5', '5'], undefined],
  ])('%j → %j', (value, expected) => {
    expect(contentLengthOf(value === undefined ? {} : { 'content-length': value })).toBe(expected);
  });
});
