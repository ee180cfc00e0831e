import { describe, expect, test } from '@jest/globals';
import {
  clientResponseHeaders,
  connectionListedNames,
  forwardRequestHeaders,
  forwardResponseHeaders,
  storedResponseHeaders,
  stripHopByHop,
  UNKEYED_REQUEST_FIELDS,
  withoutUnkeyedFields,
} from '../../src/policy/headers.js';
import type { HeaderMap } from '../../src/policy/types.js';
import { entry } from './fixtures.js';

const TARGETED = 'cdn-cache-control';
const VIA = { clientIp: '10.0.0.9', proto: 'https' as const, name: 'simple-cache', originHost: '127.0.0.1:8000' };

describe('connectionListedNames (RFC 9110 §7.6.1)', () => {
  test.each<[string, HeaderMap, string[]]>([
    ['none', {}, []],
    ['list, lower-cased and trimmed', { connection: 'Keep-Alive, X-Foo ' }, ['keep-alive', 'x-foo']],
    ['several lines, once each', { connection: ['a, b', 'B'] }, ['a', 'b']],
    ['empty members dropped', { connection: ', a,,' }, ['a']],
  ])('%s', (_rule, headers, expected) => {
    expect(connectionListedNames(headers)).toEqual(expected);
  });
});

describe('stripHopByHop (RFC 9110 §7.6.1)', () => {
  test.each<[string, HeaderMap, HeaderMap]>([
    [
      'end-to-end fields kept',
      { 'content-type': 'text/plain', etag: '"a"' },
      { 'content-type': 'text/plain', etag: '"a"' },
    ],
    [
      'the fixed hop-by-hop list removed',
      {
        connection: 'close',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        'proxy-authenticate': 'Basic',
        'proxy-authorization': 'Basic x',
        te: 'trailers',
        trailer: 'x',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        x: '1',
      },
      { x: '1' },
    ],
    ['fields named in Connection removed', { connection: 'a, B', a: '1', b: '2', c: '3' }, { c: '3' }],
    [
      'names matched in any case, keys come out lower-case',
      { Connection: 'x-A', 'X-A': '1', 'X-B': '2' },
      { 'x-b': '2' },
    ],
    ['undefined values dropped', { a: undefined, b: '1' }, { b: '1' }],
    ['multi-line values kept as lists', { 'set-cookie': ['a=1', 'b=2'] }, { 'set-cookie': ['a=1', 'b=2'] }],
  ])('%s', (_rule, headers, expected) => {
    expect(stripHopByHop(headers)).toEqual(expected);
  });

  test('never mutates its input', () => {
    const input: HeaderMap = { connection: 'a', a: '1', 'set-cookie': ['x'] };
    const copy = structuredClone(input);
    const out = stripHopByHop(input);
    (out['set-cookie'] as string[]).push('y');
    expect(input).toEqual(copy);
  });
});

describe('forwardRequestHeaders (RFC 9110 §7.6)', () => {
  const forwarded = forwardRequestHeaders(
    {
      host: 'cache.example',
      connection: 'keep-alive, x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      'content-length': '3',
      accept: 'text/html',
    },
    VIA,
  );

  test.each<[string, string, string | undefined]>([
    ['Host is the origin’s', 'host', '127.0.0.1:8000'],
    ['X-Forwarded-For is the client', 'x-forwarded-for', '10.0.0.9'],
    ['X-Forwarded-Proto set', 'x-forwarded-proto', 'https'],
    ['X-Forwarded-Host is the client’s Host', 'x-forwarded-host', 'cache.example'],
    ['Via names us (RFC 9110 §7.6.3)', 'via', '1.1 simple-cache'],
    ['Content-Length untouched', 'content-length', '3'],
    ['end-to-end fields kept', 'accept', 'text/html'],
    ['Connection removed', 'connection', undefined],
    ['fields listed in Connection removed', 'x-hop', undefined],
    ['Keep-Alive removed', 'keep-alive', undefined],
    ['TE removed', 'te', undefined],
  ])('%s', (_rule, name, expected) => {
    expect(forwarded[name]).toBe(expected);
  });

  test.each<[string, HeaderMap, string, string | undefined]>([
    ['X-Forwarded-For appended', { 'x-forwarded-for': '1.2.3.4' }, 'x-forwarded-for', '1.2.3.4, 10.0.0.9'],
    [
      'X-Forwarded-For lines combined then appended',
      { 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] },
      'x-forwarded-for',
      '1.1.1.1, 2.2.2.2, 10.0.0.9',
    ],
    ['Via appended', { via: '1.0 fred' }, 'via', '1.0 fred, 1.1 simple-cache'],
    ['X-Forwarded-Proto replaced', { 'x-forwarded-proto': 'http' }, 'x-forwarded-proto', 'https'],
    ['no client Host: X-Forwarded-Host not invented', {}, 'x-forwarded-host', undefined],
  ])('%s', (_rule, headers, name, expected) => {
    expect(forwardRequestHeaders(headers, VIA)[name]).toBe(expected);
  });

  test('never mutates its input', () => {
    const input: HeaderMap = { host: 'a', via: '1.0 x', connection: 'x', x: '1' };
    const copy = structuredClone(input);
    forwardRequestHeaders(input, VIA);
    expect(input).toEqual(copy);
  });
});

describe('withoutUnkeyedFields: a fetch whose response may be shared (cache poisoning)', () => {
  test.each(UNKEYED_REQUEST_FIELDS.map((name) => [name]))('%s is not sent', (name) => {
    expect(withoutUnkeyedFields({ [name]: 'evil.example', accept: 'text/html' })).toEqual({ accept: 'text/html' });
  });

  test.each<[string, HeaderMap, HeaderMap]>([
    ['names match in any case', { 'X-Original-URL': '/admin', a: '1' }, { a: '1' }],
    ['X-Forwarded-Host made from the client’s Host is dropped', forwardRequestHeaders({ host: 'evil' }, VIA), {}],
    [
      'X-Forwarded-For and -Proto (set by the cache) stay',
      { 'x-forwarded-proto': 'https' },
      { 'x-forwarded-proto': 'https' },
    ],
  ])('%s', (_rule, input, expected) => {
    const out = withoutUnkeyedFields(input);
    for (const [name, value] of Object.entries(expected)) expect(out[name]).toBe(value);
    for (const name of UNKEYED_REQUEST_FIELDS) expect(out[name]).toBeUndefined();
  });
});

describe('storedResponseHeaders (RFC 9111 §3.1)', () => {
  test.each<[string, HeaderMap, HeaderMap]>([
    [
      'everything end-to-end kept, unknown fields too',
      { 'x-test': '1', 'content-type': 'a/b' },
      { 'x-test': '1', 'content-type': 'a/b' },
    ],
    ['hop-by-hop not stored', { connection: 'a', a: '1', 'keep-alive': 'x', b: '2' }, { b: '2' }],
    ['Proxy-Authenticate not stored', { 'proxy-authenticate': 'Basic', b: '2' }, { b: '2' }],
    ['Proxy-Authentication-Info not stored', { 'proxy-authentication-info': 'x', b: '2' }, { b: '2' }],
    ['the targeted field kept (freshness reads it)', { [TARGETED]: 'max-age=60' }, { [TARGETED]: 'max-age=60' }],
    [
      'Set-Cookie never stored (one client’s; storability decides the rest)',
      { 'set-cookie': ['a=b'], b: '2' },
      { b: '2' },
    ],
    ['Age kept (age_value, RFC 9111 §4.2.3)', { age: '5' }, { age: '5' }],
    [
      'private="x" fields not stored by a shared cache (§5.2.2.7)',
      { 'cache-control': 'max-age=60, private="x-a, X-B"', 'x-a': '1', 'x-b': '2', 'x-c': '3' },
      { 'cache-control': 'max-age=60, private="x-a, X-B"', 'x-c': '3' },
    ],
    [
      'no-cache="x" fields are stored (stripped only when served unvalidated, §5.2.2.4)',
      { 'cache-control': 'no-cache="x-a"', 'x-a': '1' },
      { 'cache-control': 'no-cache="x-a"', 'x-a': '1' },
    ],
  ])('%s', (_rule, headers, expected) => {
    expect(storedResponseHeaders(headers, { targetedField: TARGETED, cacheName: 'simple-cache' })).toEqual(expected);
  });
});

describe('clientResponseHeaders (RFC 9111 §4, §5.1)', () => {
  const stored = entry({ etag: '"a"', [TARGETED]: 'max-age=60', 'x-a': '1', 'x-b': '2', age: '3' });

  test.each<[string, { age: number; stripFields: string[] }, string, string | undefined]>([
    ['Age set (§5.1)', { age: 12, stripFields: [] }, 'age', '12'],
    ['Age replaces the stored one', { age: 0, stripFields: [] }, 'age', '0'],
    ['Age whole seconds, rounded down', { age: 12.9, stripFields: [] }, 'age', '12'],
    ['negative age → 0', { age: -5, stripFields: [] }, 'age', '0'],
    ['NaN age → 0', { age: Number.NaN, stripFields: [] }, 'age', '0'],
    ['overflowing age → 2^31 (§1.2.2)', { age: 1e12, stripFields: [] }, 'age', '2147483648'],
    ['targeted field not passed on (RFC 9213)', { age: 0, stripFields: [] }, TARGETED, undefined],
    ['stripFields removed (no-cache="x-a", §5.2.2.4)', { age: 0, stripFields: ['X-A'] }, 'x-a', undefined],
    ['other fields kept', { age: 0, stripFields: ['x-a'] }, 'x-b', '2'],
    ['validators kept', { age: 0, stripFields: [] }, 'etag', '"a"'],
  ])('%s', (_rule, opts, name, expected) => {
    expect(clientResponseHeaders(stored, { ...opts, targetedField: TARGETED })[name]).toBe(expected);
  });

  test('hop-by-hop fields never reach the client, even if stored', () => {
    const legacy = entry({ connection: 'x', x: '1', 'transfer-encoding': 'chunked', y: '2' });
    const out = clientResponseHeaders(legacy, { age: 0, stripFields: [], targetedField: TARGETED });
    expect(out).not.toHaveProperty('x');
    expect(out).not.toHaveProperty('transfer-encoding');
    expect(out.y).toBe('2');
  });

  test('the stored entry is not changed', () => {
    const copy = structuredClone(stored);
    clientResponseHeaders(stored, { age: 9, stripFields: ['x-a'], targetedField: TARGETED });
    expect(stored).toEqual(copy);
  });
});

describe('forwardResponseHeaders (miss path)', () => {
  test.each<[string, HeaderMap, HeaderMap]>([
    ['hop-by-hop removed', { connection: 'x', x: '1', 'transfer-encoding': 'chunked', a: '1' }, { a: '1' }],
    [
      'targeted field removed (RFC 9213)',
      { [TARGETED]: 'max-age=60', 'cache-control': 'no-store' },
      { 'cache-control': 'no-store' },
    ],
    [
      'private and no-cache fields reach the client',
      { 'cache-control': 'private="x"', x: '1' },
      { 'cache-control': 'private="x"', x: '1' },
    ],
  ])('%s', (_rule, headers, expected) => {
    expect(forwardResponseHeaders(headers, TARGETED)).toEqual(expected);
  });
});
