import { describe, expect, test } from '@jest/globals';
import {
  acceptsCoding,
  decideCompression,
  decodedFields,
  isCompressibleType,
  isCompressedCopy,
  isDecodable,
  negotiateCoding,
  selectVariantOrIdentity,
  varyWithAcceptEncoding,
  weakenEntityTag,
  withCodingFields,
  type CompressionOptions,
} from '../../src/policy/index.js';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';

const ae = (value: string | undefined): HeaderMap => (value === undefined ? {} : { 'accept-encoding': value });

describe('negotiateCoding (RFC 9110 §12.5.3): the stored copy a request gets', () => {
  test.each([
    [undefined, 'identity'], // no field: what curl and scripts send, and expect
    ['', 'identity'],
    ['identity', 'identity'],
    ['gzip, deflate, br', 'br'], // browsers: br before gzip on a tie
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip', 'gzip'],
    ['x-gzip', 'gzip'], // §8.4.1.3
    ['GZIP', 'gzip'],
    ['br;q=0.5, gzip', 'gzip'],
    ['br;q=0, gzip;q=0', 'identity'],
    ['*', 'br'],
    ['*;q=0.2, gzip;q=0.5', 'gzip'],
    ['deflate', 'identity'],
    ['zstd', 'identity'],
    ['br;q=1.000', 'br'],
    ['br;q=2', 'br'], // a qvalue out of grammar is ignored (q stays 1)
    ['b r, gzip', 'gzip'], // a member that is not a token is skipped
    ['br;q=0, br', 'identity'], // the first mention counts
  ])('Accept-Encoding %j → %s', (value, coding) => {
    expect(negotiateCoding(ae(value))).toBe(coding);
  });

  test('a Range always gets identity: ranges are cut from the identity body', () => {
    expect(negotiateCoding({ 'accept-encoding': 'br', range: 'bytes=0-1' })).toBe('identity');
  });

  test.each([
    ['no-transform', 'identity'], // RFC 9111 §5.2.1.6: the cache's compressed copy is a transformation
    ['max-age=0, No-Transform', 'identity'],
    ['no-cache', 'br'],
  ])('Cache-Control: %s with Accept-Encoding: br → %s', (cacheControl, coding) => {
    expect(negotiateCoding({ 'accept-encoding': 'br', 'cache-control': cacheControl })).toBe(coding);
  });
});

describe('acceptsCoding: may this client be sent a body in that Content-Encoding', () => {
  test.each([
    [undefined, undefined, true],
    ['identity;q=0', undefined, false],
    ['*;q=0', undefined, false],
    ['*;q=0, identity', undefined, true],
    [undefined, 'gzip', false],
    ['gzip', 'gzip', true],
    ['gzip', 'x-gzip', true],
    ['br', 'gzip', false],
    ['*', 'deflate', true],
    ['gzip, br', 'gzip, br', true], // codings applied in order: each must be accepted
    ['gzip', 'gzip, br', false],
    ['gzip', 'identity', true],
  ])('Accept-Encoding %j, Content-Encoding %j → %s', (accept, coding, expected) => {
    expect(acceptsCoding(ae(accept), coding)).toBe(expected);
  });

  test.each([
    ['gzip', true],
    ['x-gzip', true],
    ['br', true],
    ['deflate', true],
    ['zstd', false],
    ['gzip, br', false], // two codings: not undone on the fly
    [undefined, false],
  ])('isDecodable(%j) → %s', (coding, expected) => {
    expect(isDecodable(coding)).toBe(expected);
  });
});

const OPTIONS: CompressionOptions = {
  enabled: true,
  types: ['text/*', 'application/json', '*/*+xml'],
  minSize: 1024,
};
const ok = { 'content-type': 'text/html; charset=utf-8', 'content-length': '5000' };

describe('decideCompression: what the cache compresses as it stores', () => {
  test.each<[string, number, HeaderMap, CompressionOptions, string | true]>([
    ['a text page', 200, ok, OPTIONS, true],
    ['203', 203, ok, OPTIONS, true],
    ['unknown length (often large)', 200, { 'content-type': 'text/css' }, OPTIONS, true],
    ['switched off', 200, ok, { ...OPTIONS, enabled: false }, 'off'],
    ['a 404', 404, ok, OPTIONS, 'status'],
    ['a 206', 206, ok, OPTIONS, 'status'],
    ['already gzip (never twice)', 200, { ...ok, 'content-encoding': 'gzip' }, OPTIONS, 'already-encoded'],
    ['Content-Encoding: identity is no coding', 200, { ...ok, 'content-encoding': 'identity' }, OPTIONS, true],
    ['a PNG (already compressed)', 200, { ...ok, 'content-type': 'image/png' }, OPTIONS, 'type'],
    ['no Content-Type', 200, { 'content-length': '5000' }, OPTIONS, 'type'],
    ['under the minimum size', 200, { ...ok, 'content-length': '1023' }, OPTIONS, 'small'],
    ['at the minimum size', 200, { ...ok, 'content-length': '1024' }, OPTIONS, true],
    [
      'no-transform (RFC 9110 §7.7)',
      200,
      { ...ok, 'cache-control': 'max-age=60, no-transform' },
      OPTIONS,
      'no-transform',
    ],
    ['Vary: *', 200, { ...ok, vary: '*' }, OPTIONS, 'vary-star'],
    ['a Content-Range', 200, { ...ok, 'content-range': 'bytes 0-9/10' }, OPTIONS, 'partial'],
  ])('%s', (_name, status, headers, options, expected) => {
    const decision = decideCompression({ status, headers }, options);
    expect(decision.compress ? true : decision.reason).toBe(expected);
  });

  test.each([
    ['text/html', true],
    ['TEXT/CSS; charset=utf-8', true],
    ['application/json', true],
    ['application/json-seq', false],
    ['application/atom+xml', true],
    ['image/svg+xml', true],
    ['application/javascript', false], // not in this list
    ['text', false],
    ['', false],
  ])('isCompressibleType(%j) → %s', (type, expected) => {
    expect(isCompressibleType(type, OPTIONS.types)).toBe(expected);
  });
});

describe('fields of a transformed body', () => {
  test.each([
    ['"v1"', 'W/"v1"'],
    ['W/"v1"', 'W/"v1"'],
    [' "v1" ', 'W/"v1"'],
    ['v1', 'v1'], // not an entity-tag: left alone
    [undefined, undefined],
  ])('weakenEntityTag(%j) → %j (RFC 9110 §8.8.3)', (etag, expected) => {
    expect(weakenEntityTag(etag)).toBe(expected);
  });

  test.each([
    [undefined, 'Accept-Encoding'],
    ['', 'Accept-Encoding'],
    ['Accept-Language', 'Accept-Language, Accept-Encoding'],
    ['accept-encoding', 'accept-encoding'],
    ['Cookie, Accept-Encoding', 'Cookie, Accept-Encoding'],
  ])('varyWithAcceptEncoding(Vary %j) → %j', (vary, expected) => {
    expect(varyWithAcceptEncoding(vary === undefined ? {} : { vary })).toBe(expected);
  });

  test.each<[string, Record<string, string | undefined>, HeaderMap, boolean]>([
    ["the cache's br copy", { 'accept-encoding': 'br' }, {}, true],
    ['the identity body it split from', { 'accept-encoding': 'identity' }, {}, false],
    ["an origin's own br variant", { 'accept-encoding': 'br' }, { vary: 'Accept-Encoding' }, false],
    ['no Accept-Encoding in Vary', {}, {}, false],
  ])('isCompressedCopy: %s → %s', (_name, varyValues, headers, expected) => {
    expect(isCompressedCopy({ varyValues, headers })).toBe(expected);
  });

  test.each<[HeaderMap, boolean, boolean, HeaderMap]>([
    [{ etag: '"a"' }, true, true, { etag: 'W/"a"', vary: 'Accept-Encoding' }],
    [{ etag: '"a"', 'accept-ranges': 'bytes' }, true, true, { etag: 'W/"a"', vary: 'Accept-Encoding' }],
    [
      { etag: '"a"', 'accept-ranges': 'bytes' },
      true,
      false,
      { etag: '"a"', 'accept-ranges': 'bytes', vary: 'Accept-Encoding' },
    ],
    [{ etag: '"a"', vary: 'Cookie' }, true, false, { etag: '"a"', vary: 'Cookie, Accept-Encoding' }],
    [
      { etag: '"a"', 'content-encoding': 'gzip' },
      false,
      false,
      { etag: '"a"', 'content-encoding': 'gzip', vary: 'Accept-Encoding' },
    ],
    [{ etag: '"a"', 'content-encoding': 'zstd' }, false, false, { etag: '"a"', 'content-encoding': 'zstd' }],
    [{ etag: '"a"' }, false, false, { etag: '"a"' }],
  ])('withCodingFields(%j, varies %s, copy %s) → %j', (headers, varies, copy, expected) => {
    expect(withCodingFields(headers, varies, copy)).toEqual(expected);
  });

  test('decodedFields: no coding, length, range or Accept-Ranges; Vary and a weak ETag', () => {
    expect(
      decodedFields({
        'content-encoding': 'gzip',
        'content-length': '10',
        'accept-ranges': 'bytes',
        etag: '"a"',
        'content-type': 'text/html',
      }),
    ).toEqual({ vary: 'Accept-Encoding', etag: 'W/"a"', 'content-type': 'text/html' });
  });
});

describe('selectVariantOrIdentity: a missing copy falls back to the identity body', () => {
  const entry = (coding: string): EntryMeta =>
    ({
      key: 'k',
      variant: `accept-encoding:${coding}`,
      vary: ['accept-encoding'],
      varyValues: { 'accept-encoding': coding },
      status: 200,
      headers: {},
      requestTime: 0,
      responseTime: 0,
      size: 1,
      bodyId: coding,
      checksum: '',
    }) as unknown as EntryMeta;
  const identity = entry('identity');
  const br = entry('br');
  // The origin's own Vary: Accept-Encoding: not the cache's split, selected strictly.
  const originVaried = { ...entry('identity'), headers: { vary: 'Accept-Encoding' } } as EntryMeta;

  test.each<[string | undefined, EntryMeta[], EntryMeta | undefined]>([
    ['br', [identity, br], br],
    ['br', [identity], identity],
    ['gzip', [identity, br], identity],
    [undefined, [br], undefined],
    ['br, identity;q=0', [identity], undefined], // it refuses identity: a miss
    ['gzip', [br], undefined],
    ['br', [originVaried], undefined],
    [undefined, [originVaried], originVaried],
  ])('Accept-Encoding %j', (accept, entries, expected) => {
    expect(selectVariantOrIdentity(entries, ae(accept))).toBe(expected);
  });
});
