import { describe, expect, test } from '@jest/globals';
import {
  conditionalHeaders,
  evaluateClientConditional,
  freshenWithHead,
  freshenWithNotModified,
  notModifiedHead,
  notModifiedMatches,
  parseEtagList,
  strongMatch,
  weakMatch,
} from '../../src/policy/validation.js';
import type { EntryMeta, HeaderMap, ResponseView } from '../../src/policy/types.js';
import { at, entry, httpDate, request } from './fixtures.js';

const LM = httpDate(-3000);

function response(headers: HeaderMap, status = 304): ResponseView {
  return { status, headers };
}

describe('conditionalHeaders (RFC 9111 §4.3.1)', () => {
  test.each<[string, HeaderMap, HeaderMap]>([
    ['no validators → nothing', {}, {}],
    ['ETag → If-None-Match (MUST)', { etag: '"a"' }, { 'if-none-match': '"a"' }],
    ['weak ETag sent as is', { etag: 'W/"a"' }, { 'if-none-match': 'W/"a"' }],
    ['Last-Modified → If-Modified-Since (SHOULD)', { 'last-modified': LM }, { 'if-modified-since': LM }],
    ['both → both', { etag: '"a"', 'last-modified': LM }, { 'if-none-match': '"a"', 'if-modified-since': LM }],
    ['invalid Last-Modified is not sent', { 'last-modified': 'yesterday' }, {}],
    ['empty ETag is not sent', { etag: '' }, {}],
  ])('%s', (_rule, headers, expected) => {
    expect(conditionalHeaders(entry(headers))).toEqual(expected);
  });
});

describe('notModifiedMatches: which stored response a 304 updates (RFC 9111 §4.3.4)', () => {
  test.each<[string, HeaderMap, HeaderMap, boolean]>([
    ['same strong ETag', { etag: '"a"' }, { etag: '"a"' }, true],
    ['different strong ETag', { etag: '"a"' }, { etag: '"b"' }, false],
    [
      'strong ETag in the 304, stored one weak → no (strong validators must match)',
      { etag: 'W/"a"' },
      { etag: '"a"' },
      false,
    ],
    ['weak ETag in the 304 matches weakly', { etag: '"a"' }, { etag: 'W/"a"' }, true],
    ['weak ETags', { etag: 'W/"a"' }, { etag: 'W/"a"' }, true],
    ['ETag in the 304, none stored', { 'last-modified': LM }, { etag: '"a"' }, false],
    [
      'ETag decides even when Last-Modified agrees',
      { etag: '"a"', 'last-modified': LM },
      { etag: '"b"', 'last-modified': LM },
      false,
    ],
    ['same Last-Modified', { 'last-modified': LM }, { 'last-modified': LM }, true],
    [
      'equivalent Last-Modified in another date format',
      { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' },
      { 'last-modified': 'Sunday, 06-Nov-94 08:49:37 GMT' },
      true,
    ],
    ['different Last-Modified', { 'last-modified': LM }, { 'last-modified': httpDate(-10) }, false],
    ['no validator in the 304: the validated response', { etag: '"a"' }, {}, true],
    ['no validator anywhere', {}, { date: httpDate(5) }, true],
  ])('%s', (_rule, storedHeaders, notModified, expected) => {
    expect(notModifiedMatches(entry(storedHeaders), response(notModified))).toBe(expected);
  });
});

describe('freshenWithNotModified: updating stored headers (RFC 9111 §3.2, §4.3.4)', () => {
  const original = entry(
    {
      etag: '"a"',
      'cache-control': 'max-age=1',
      'content-length': '10',
      'content-type': 'text/plain',
      'content-encoding': 'gzip',
      'content-md5': 'c3RvcmVkIGJvZHkgbWQ1Cg==',
      digest: 'sha-256=c3RvcmVk',
      'content-digest': 'sha-256=:c3RvcmVk:',
      'repr-digest': 'sha-256=:c3RvcmVk:',
      'test-header': 'A',
      'x-kept': 'stored',
      age: '50',
    },
    { size: 10, bodyId: 'body-a', requestTime: at(0), responseTime: at(0) },
  );

  const freshened = freshenWithNotModified(
    original,
    response({
      etag: '"a"',
      'cache-control': 'max-age=3600',
      date: httpDate(100),
      'content-length': '0',
      'content-encoding': 'br',
      'content-range': 'bytes 0-1/2',
      'content-type': 'text/plain;charset=utf-8',
      'content-md5': 'bmV3IGJvZHkgbWQ1Cg==',
      digest: 'sha-256=bmV3',
      'content-digest': 'sha-256=:bmV3:',
      'repr-digest': 'sha-256=:bmV3:',
      'content-language': 'de',
      'test-header': 'B',
      connection: 'x-conn',
      'x-conn': 'hop',
      'keep-alive': 'timeout=5',
    }),
    at(99),
    at(100),
  );

  test.each<[string, string, string | undefined]>([
    ['new Cache-Control taken', 'cache-control', 'max-age=3600'],
    ['new Date taken', 'date', httpDate(100)],
    ['new ETag taken', 'etag', '"a"'],
    ['other fields replaced (cache-tests 304-*-update)', 'test-header', 'B'],
    ['Content-Type replaced', 'content-type', 'text/plain;charset=utf-8'],
    ['fields absent from the 304 kept', 'x-kept', 'stored'],
    ['Content-Length NOT updated (§3.2)', 'content-length', '10'],
    ['Content-Encoding kept: it describes the stored bytes (§3.2)', 'content-encoding', 'gzip'],
    ['Content-Range of the 304 ignored (§3.2)', 'content-range', undefined],
    ['Content-MD5 kept: a digest of the stored bytes (§3.2)', 'content-md5', 'c3RvcmVkIGJvZHkgbWQ1Cg=='],
    ['Digest kept (RFC 3230)', 'digest', 'sha-256=c3RvcmVk'],
    ['Content-Digest kept (RFC 9530 §2)', 'content-digest', 'sha-256=:c3RvcmVk:'],
    ['Repr-Digest kept (RFC 9530 §3)', 'repr-digest', 'sha-256=:c3RvcmVk:'],
    ['Content-Language replaced: it does not describe the bytes', 'content-language', 'de'],
    ['Connection not stored (§3.1)', 'connection', undefined],
    ['fields listed in Connection not stored (§3.1)', 'x-conn', undefined],
    ['hop-by-hop not stored', 'keep-alive', undefined],
    ['old Age dropped: the 304 has none', 'age', undefined],
  ])('%s', (_rule, name, expected) => {
    expect(freshened.headers[name]).toEqual(expected);
  });

  test('times become the validation exchange’s; body and identity unchanged (§4.3.4)', () => {
    expect(freshened).toMatchObject({
      requestTime: at(99),
      responseTime: at(100),
      size: 10,
      bodyId: 'body-a',
      status: 200,
    });
    expect(original.headers['test-header']).toBe('A');
  });

  test('a 304 without Date gets the time it was received (RFC 9110 §6.6.1)', () => {
    const result = freshenWithNotModified(original, response({ etag: '"a"' }), at(9), at(10));
    expect(result.headers.date).toBe(httpDate(10));
  });

  test('an Age in the 304 replaces the stored one', () => {
    const result = freshenWithNotModified(original, response({ etag: '"a"', age: '7' }), at(9), at(10));
    expect(result.headers.age).toBe('7');
  });

  test('private="x" brought by the 304 keeps x out of storage (§5.2.2.7)', () => {
    const result = freshenWithNotModified(
      original,
      response({ 'cache-control': 'max-age=60, private="x-kept"' }),
      at(1),
      at(1),
    );
    expect(result.headers['x-kept']).toBeUndefined();
  });
});

describe('freshenWithHead (RFC 9111 §4.3.5)', () => {
  const original = entry(
    { etag: '"a"', 'last-modified': LM, 'content-length': '10', 'template-a': '1', 'cache-control': 'max-age=1' },
    { size: 10 },
  );

  test.each<[string, HeaderMap, 'updated' | 'outdated']>([
    ['same validators and length → updated', { etag: '"a"', 'last-modified': LM, 'content-length': '10' }, 'updated'],
    ['no validators, no length → updated (nothing contradicts)', { 'cache-control': 'max-age=1000' }, 'updated'],
    ['different ETag → outdated', { etag: '"b"' }, 'outdated'],
    ['weak vs strong ETag → outdated', { etag: 'W/"a"' }, 'outdated'],
    ['different Last-Modified → outdated', { 'last-modified': httpDate(-10) }, 'outdated'],
    ['different Content-Length → outdated', { 'content-length': '11' }, 'outdated'],
    ['same Content-Length alone → updated', { 'content-length': '10' }, 'updated'],
  ])('%s', (_rule, headers, expected) => {
    const result = freshenWithHead(original, response(headers, 200), at(1), at(2));
    expect(result === undefined ? 'outdated' : 'updated').toBe(expected);
  });

  test('updates fields and times like a 304, keeps the rest', () => {
    const result = freshenWithHead(
      original,
      response({ 'template-a': '2', 'cache-control': 'max-age=1000' }, 200),
      at(1),
      at(2),
    );
    expect(result?.headers).toMatchObject({
      'template-a': '2',
      'cache-control': 'max-age=1000',
      etag: '"a"',
      'content-length': '10',
    });
    expect(result).toMatchObject({ requestTime: at(1), responseTime: at(2) });
  });

  test('a HEAD with another digest or coding does not change the stored ones (§3.2)', () => {
    const digested = entry({ etag: '"a"', 'content-md5': 'b2xk', 'content-encoding': 'gzip' }, { size: 10 });
    const result = freshenWithHead(
      digested,
      response({ etag: '"a"', 'content-md5': 'bmV3', 'content-encoding': 'br', 'x-new': '1' }, 200),
      at(1),
      at(2),
    );
    expect(result?.headers).toMatchObject({ 'content-md5': 'b2xk', 'content-encoding': 'gzip', 'x-new': '1' });
  });

  test('stored size is the reference when no Content-Length was stored', () => {
    const noLength = entry({ etag: '"a"' }, { size: 4 });
    expect(freshenWithHead(noLength, response({ 'content-length': '4' }, 200), at(1), at(2))).toBeDefined();
    expect(freshenWithHead(noLength, response({ 'content-length': '5' }, 200), at(1), at(2))).toBeUndefined();
  });

  test('a HEAD answered with another status neither updates nor invalidates', () => {
    expect(freshenWithHead(original, response({ 'template-a': '2' }, 404), at(1), at(2))).toBe(original);
  });
});

describe('notModifiedHead: a 304 the cache writes for a client (RFC 9110 §15.4.5)', () => {
  const full: HeaderMap = {
    etag: '"a"',
    'last-modified': LM,
    'cache-control': 'max-age=60',
    expires: httpDate(60),
    date: httpDate(0),
    vary: 'accept-encoding',
    'content-location': '/a',
    age: '3',
    'x-other': 'kept',
    'content-type': 'text/plain',
    'content-length': '10',
    'content-encoding': 'gzip',
    'content-range': 'bytes 0-9/10',
    'transfer-encoding': 'chunked',
    'content-md5': 'b2xk',
    digest: 'sha-256=b2xk',
    'content-digest': 'sha-256=:b2xk:',
    'repr-digest': 'sha-256=:b2xk:',
  };
  const head = notModifiedHead(full);

  test.each<[string, string]>([
    ['ETag', 'etag'],
    ['Last-Modified (guides cache updates when there is no ETag)', 'last-modified'],
    ['Cache-Control', 'cache-control'],
    ['Expires', 'expires'],
    ['Date', 'date'],
    ['Vary', 'vary'],
    ['Content-Location', 'content-location'],
    ['Age', 'age'],
    ['other fields', 'x-other'],
  ])('keeps %s', (_rule, name) => {
    expect(head[name]).toBe(full[name]);
  });

  test.each<[string, string]>([
    ['Content-Type', 'content-type'],
    ['Content-Length', 'content-length'],
    ['Content-Encoding', 'content-encoding'],
    ['Content-Range', 'content-range'],
    ['Transfer-Encoding', 'transfer-encoding'],
    ['Content-MD5', 'content-md5'],
    ['Digest', 'digest'],
    ['Content-Digest', 'content-digest'],
    ['Repr-Digest', 'repr-digest'],
  ])('leaves out %s (it describes the body a 304 does not send)', (_rule, name) => {
    expect(head[name]).toBeUndefined();
  });

  test('the 200 head it was made from is left as it was', () => {
    expect(full['content-type']).toBe('text/plain');
  });
});

describe('entity-tag comparison (RFC 9110 §8.8.3.2)', () => {
  test.each<[string, string, string, boolean, boolean]>([
    // [rule, a, b, strong, weak]
    ['same strong tags', '"1"', '"1"', true, true],
    ['weak and strong', 'W/"1"', '"1"', false, true],
    ['both weak', 'W/"1"', 'W/"1"', false, true],
    ['different tags', '"1"', '"2"', false, false],
    ['different weak tags', 'W/"1"', 'W/"2"', false, false],
    ['W/ is case-sensitive: w/ is part of the tag', 'w/"1"', '"1"', false, false],
    ['unquoted tags only match themselves', 'abc', '"abc"', false, false],
    ['identical unquoted tags', 'abc', 'abc', true, true],
    ['obs-text allowed', '"abcdefü"', '"abcdefü"', true, true],
    ['* is not a tag', '*', '*', false, false],
  ])('%s', (_rule, a, b, strong, weak) => {
    expect(strongMatch(a, b)).toBe(strong);
    expect(weakMatch(a, b)).toBe(weak);
  });

  test.each<[string, string | string[] | undefined, string[]]>([
    ['absent', undefined, []],
    ['one', '"a"', ['"a"']],
    ['list with whitespace', ' "a" ,W/"b",  "c" ', ['"a"', 'W/"b"', '"c"']],
    ['commas inside quotes do not split (etagc allows ",")', '"a,b", "c"', ['"a,b"', '"c"']],
    ['several lines', ['"a"', '"b"'], ['"a"', '"b"']],
    ['empty members dropped', '"a",, ', ['"a"']],
    ['*', '*', ['*']],
  ])('parseEtagList: %s', (_rule, value, expected) => {
    expect(parseEtagList(value)).toEqual(expected);
  });
});

describe('evaluateClientConditional (RFC 9111 §4.3.2, RFC 9110 §13.1, §13.2.2)', () => {
  const withBoth = entry({ etag: '"abcdef"', 'last-modified': LM });

  test.each<[string, EntryMeta, HeaderMap, string, 'not-modified' | 'forward' | undefined]>([
    ['no conditionals → serve', withBoth, {}, 'GET', undefined],
    ['If-None-Match matching → 304 (§13.1.2)', withBoth, { 'if-none-match': '"abcdef"' }, 'GET', 'not-modified'],
    ['If-None-Match for HEAD → 304', withBoth, { 'if-none-match': '"abcdef"' }, 'HEAD', 'not-modified'],
    ['If-None-Match not matching → serve', withBoth, { 'if-none-match': '"other"' }, 'GET', undefined],
    [
      'If-None-Match weak comparison',
      entry({ etag: 'W/"abcdef"' }),
      { 'if-none-match': '"abcdef"' },
      'GET',
      'not-modified',
    ],
    [
      'If-None-Match weak both sides',
      entry({ etag: 'W/"abcdef"' }),
      { 'if-none-match': 'W/"abcdef"' },
      'GET',
      'not-modified',
    ],
    ['If-None-Match list, first', withBoth, { 'if-none-match': '"abcdef", "1234", "5678"' }, 'GET', 'not-modified'],
    ['If-None-Match list, middle', withBoth, { 'if-none-match': '"1234", "abcdef", "5678"' }, 'GET', 'not-modified'],
    ['If-None-Match list, last', withBoth, { 'if-none-match': '"1234", "5678", "abcdef"' }, 'GET', 'not-modified'],
    ['If-None-Match: * with a stored response → 304', entry({}), { 'if-none-match': '*' }, 'GET', 'not-modified'],
    [
      'If-None-Match but no stored ETag → serve',
      entry({ 'last-modified': LM }),
      { 'if-none-match': '"a"' },
      'GET',
      undefined,
    ],
    [
      'If-None-Match beats If-Modified-Since (matching IMS ignored)',
      withBoth,
      { 'if-none-match': '"other"', 'if-modified-since': LM },
      'GET',
      undefined,
    ],
    [
      'If-None-Match beats If-Modified-Since (old IMS ignored)',
      withBoth,
      { 'if-none-match': '"abcdef"', 'if-modified-since': httpDate(-9000) },
      'GET',
      'not-modified',
    ],
    [
      'If-Modified-Since equal to Last-Modified → 304 (§13.1.3)',
      withBoth,
      { 'if-modified-since': LM },
      'GET',
      'not-modified',
    ],
    [
      'If-Modified-Since later than Last-Modified → 304',
      withBoth,
      { 'if-modified-since': httpDate(-2000) },
      'GET',
      'not-modified',
    ],
    [
      'If-Modified-Since earlier than Last-Modified → serve',
      withBoth,
      { 'if-modified-since': httpDate(-4000) },
      'GET',
      undefined,
    ],
    [
      'If-Modified-Since in rfc850 format',
      entry({ 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }),
      { 'if-modified-since': 'Sunday, 06-Nov-94 08:49:37 GMT' },
      'GET',
      'not-modified',
    ],
    [
      'rfc850 two-digit year read relative to the stored response (RFC 9110 §5.6.7)',
      entry({ 'last-modified': 'Sun, 14 Jan 2024 12:00:00 GMT' }),
      { 'if-modified-since': 'Sunday, 14-Jan-24 12:00:00 GMT' },
      'GET',
      'not-modified',
    ],
    ['invalid If-Modified-Since ignored', withBoth, { 'if-modified-since': 'yesterday' }, 'GET', undefined],
    ['a list of dates is invalid, ignored', withBoth, { 'if-modified-since': `${LM}, ${LM}` }, 'GET', undefined],
    [
      'no Last-Modified: the stored Date is used (RFC 9111 §4.3.2)',
      entry({}),
      { 'if-modified-since': httpDate(0) },
      'GET',
      'not-modified',
    ],
    [
      'no Last-Modified: Date later than IMS → serve',
      entry({}),
      { 'if-modified-since': httpDate(-10) },
      'GET',
      undefined,
    ],
    [
      'no Last-Modified nor Date: time received',
      entry({ date: undefined }, { responseTime: at(0) }),
      { 'if-modified-since': httpDate(1) },
      'GET',
      'not-modified',
    ],
    ['If-Match goes to the origin (not applicable to a cache)', withBoth, { 'if-match': '"abcdef"' }, 'GET', 'forward'],
    [
      'If-Match not matching goes to the origin too',
      withBoth,
      { 'if-match': '"other"', 'if-none-match': '"abcdef"' },
      'GET',
      'forward',
    ],
    ['If-Unmodified-Since goes to the origin', withBoth, { 'if-unmodified-since': httpDate(-9000) }, 'GET', 'forward'],
    [
      'other methods: preconditions not the cache’s business',
      withBoth,
      { 'if-none-match': '"abcdef"' },
      'POST',
      undefined,
    ],
    [
      'non-2xx stored response: preconditions ignored (§13.2.1)',
      entry({ etag: '"abcdef"' }, { status: 404 }),
      { 'if-none-match': '"abcdef"' },
      'GET',
      undefined,
    ],
    [
      'empty If-None-Match ignored, IMS applies',
      withBoth,
      { 'if-none-match': ' ', 'if-modified-since': LM },
      'GET',
      'not-modified',
    ],
  ])('%s', (_rule, stored, headers, method, expected) => {
    expect(evaluateClientConditional(request(headers, method), stored)).toBe(expected);
  });
});
