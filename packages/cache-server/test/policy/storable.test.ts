import { describe, expect, test } from '@jest/globals';
import { decideStorable, requestForbidsStoring } from '../../src/policy/storable.js';
import type { HeaderMap, PolicyOptions, RequestView } from '../../src/policy/types.js';
import { httpDate, options, request } from './fixtures.js';

const FRESH = { 'cache-control': 'max-age=3600' };
const VALIDATED = { etag: '"v1"' };
const URL_ = 'http://origin.test/things/1';

type Row = [string, RequestView, number, HeaderMap, string];

function check(req: RequestView, status: number, headers: HeaderMap, opts: PolicyOptions = options()) {
  return decideStorable(req, { status, headers }, opts);
}

describe('decideStorable (RFC 9111 §3, shared cache)', () => {
  test.each<Row>([
    // Method (§3, RFC 9110 §9.2.3)
    ['GET with explicit freshness', request(), 200, FRESH, 'storable'],
    ['method name is case-insensitive here', request({}, 'get'), 200, FRESH, 'storable'],
    ['HEAD responses are not stored as entries', request({}, 'HEAD'), 200, FRESH, 'method-head'],
    ['PUT is not cacheable', request({}, 'PUT'), 200, FRESH, 'method-not-cacheable'],
    ['DELETE is not cacheable', request({}, 'DELETE'), 200, FRESH, 'method-not-cacheable'],
    [
      'POST with freshness and Content-Location = target (RFC 9110 §9.3.3)',
      request({}, 'POST', URL_),
      200,
      { ...FRESH, 'content-location': '/things/1' },
      'storable',
    ],
    [
      'POST with Expires and absolute Content-Location',
      request({}, 'POST', URL_),
      200,
      { expires: httpDate(60), 'content-location': URL_ },
      'storable',
    ],
    [
      'POST with another Content-Location',
      request({}, 'POST', URL_),
      200,
      { ...FRESH, 'content-location': '/things/2' },
      'method-not-cacheable',
    ],
    ['POST without Content-Location', request({}, 'POST', URL_), 200, FRESH, 'method-not-cacheable'],
    [
      'POST without explicit freshness',
      request({}, 'POST', URL_),
      200,
      { 'content-location': '/things/1' },
      'method-not-cacheable',
    ],
    [
      'POST when the target URL is unknown',
      request({}, 'POST'),
      200,
      { ...FRESH, 'content-location': '/things/1' },
      'method-not-cacheable',
    ],
    [
      'POST with an unparsable target',
      request({}, 'POST', 'not a url'),
      200,
      { ...FRESH, 'content-location': 'x' },
      'method-not-cacheable',
    ],
    // Status (§3, §3.3, §4.3.4)
    ['1xx is not final', request(), 103, FRESH, 'status-not-final'],
    ['206 is not stored by this cache', request(), 206, FRESH, 'partial-content'],
    ['304 is never stored', request(), 304, FRESH, 'not-modified'],
    // no-store (§5.2.1.5, §5.2.2.5)
    ['response no-store', request(), 200, { 'cache-control': 'no-store' }, 'no-store'],
    ['response no-store, any case', request(), 200, { 'cache-control': 'No-StOrE' }, 'no-store'],
    [
      'response no-store beats max-age and Expires',
      request(),
      200,
      { 'cache-control': 'max-age=10000, no-store', expires: httpDate(10_000) },
      'no-store',
    ],
    ['request no-store', request({ 'cache-control': 'no-store' }), 200, FRESH, 'request-no-store'],
    // must-understand (§5.2.2.3)
    [
      'must-understand + understood status overrides no-store',
      request(),
      200,
      { 'cache-control': 'must-understand, no-store, max-age=60' },
      'storable',
    ],
    [
      'must-understand + understood 404',
      request(),
      404,
      { 'cache-control': 'must-understand, no-store, max-age=5' },
      'storable',
    ],
    [
      'must-understand + unknown status',
      request(),
      299,
      { 'cache-control': 'must-understand, no-store, max-age=60' },
      'must-understand',
    ],
    [
      'must-understand + unknown status without no-store',
      request(),
      599,
      { 'cache-control': 'must-understand, max-age=60' },
      'must-understand',
    ],
    [
      'request no-store beats must-understand',
      request({ 'cache-control': 'no-store' }),
      200,
      { 'cache-control': 'must-understand, max-age=60' },
      'request-no-store',
    ],
    // private (§5.2.2.7)
    ['bare private', request(), 200, { 'cache-control': 'private, max-age=3600' }, 'private'],
    [
      'private="field" is storable without the field',
      request(),
      200,
      { 'cache-control': 'private="set-cookie", max-age=3600' },
      'storable',
    ],
    // Authorization (§3.5)
    [
      'Authorization without permission',
      request({ authorization: 'FOO' }),
      200,
      { expires: httpDate(3600) },
      'authorization',
    ],
    ['Authorization with max-age only', request({ authorization: 'FOO' }), 200, FRESH, 'authorization'],
    [
      'Authorization + public',
      request({ authorization: 'FOO' }),
      200,
      { 'cache-control': 'max-age=3600, public' },
      'storable',
    ],
    [
      'Authorization + s-maxage',
      request({ authorization: 'FOO' }),
      200,
      { 'cache-control': 's-maxage=3600' },
      'storable',
    ],
    [
      'Authorization + must-revalidate',
      request({ authorization: 'FOO' }),
      200,
      { 'cache-control': 'max-age=3600, must-revalidate' },
      'storable',
    ],
    [
      'Authorization + public in the targeted field',
      request({ authorization: 'FOO' }),
      200,
      { 'cdn-cache-control': 'public, max-age=60' },
      'storable',
    ],
    // Vary (§4.1)
    ['Vary: * is never reusable', request(), 200, { ...FRESH, vary: '*' }, 'vary-star'],
    ['Vary: * among other names', request(), 200, { ...FRESH, vary: 'accept, *' }, 'vary-star'],
    ['Vary with names is fine', request(), 200, { ...FRESH, vary: 'accept-encoding' }, 'storable'],
    // Permission to store (§3)
    ['Expires counts as explicit freshness', request(), 200, { expires: httpDate(60) }, 'storable'],
    ['invalid Expires still counts (stored stale)', request(), 500, { expires: '0', ...VALIDATED }, 'storable'],
    ['s-maxage counts', request(), 503, { 'cache-control': 's-maxage=5' }, 'storable'],
    [
      'public with a validator counts (§5.2.2.9)',
      request(),
      599,
      { 'cache-control': 'public', ...VALIDATED },
      'storable',
    ],
    ['no explicit freshness, status not heuristically cacheable', request(), 500, VALIDATED, 'not-cacheable-status'],
    ['no explicit freshness, 302', request(), 302, VALIDATED, 'not-cacheable-status'],
    [
      'no-cache + validator on 200 is storable (revalidated on use)',
      request(),
      200,
      { 'cache-control': 'no-cache', ...VALIDATED },
      'storable',
    ],
    ['no-cache="field" + max-age', request(), 200, { 'cache-control': 'no-cache="a", max-age=60' }, 'storable'],
    // Set-Cookie: stored only when the origin says it may be shared (and the field itself never is)
    ['Set-Cookie with max-age only is not stored', request(), 200, { ...FRESH, 'set-cookie': 'a=b' }, 'set-cookie'],
    [
      'Set-Cookie with public is stored',
      request(),
      200,
      { 'cache-control': 'public, max-age=60', 'set-cookie': 'a=b' },
      'storable',
    ],
    [
      'Set-Cookie with s-maxage is stored',
      request(),
      200,
      { 'cache-control': 's-maxage=60', 'set-cookie': ['a=b', 'c=d'] },
      'storable',
    ],
    [
      'Set-Cookie named by private="set-cookie" is stored (without it)',
      request(),
      200,
      { 'cache-control': 'max-age=60, private="Set-Cookie"', 'set-cookie': 'a=b' },
      'storable',
    ],
    [
      'Set-Cookie named by no-cache="set-cookie" is stored (without it)',
      request(),
      200,
      { 'cache-control': 'max-age=60, no-cache="set-cookie"', 'set-cookie': 'a=b' },
      'storable',
    ],
    [
      'Set-Cookie with private="x-other" is not stored',
      request(),
      200,
      { 'cache-control': 'max-age=60, private="x-other"', 'set-cookie': 'a=b' },
      'set-cookie',
    ],
    ['request Cookie does not prevent storing', request({ cookie: 'a=b' }), 200, FRESH, 'storable'],
    // Credentials and heuristic freshness (web cache deception, issue 12.7; RFC 9111 §4.2.2)
    [
      'request Cookie + only Last-Modified: no heuristic lifetime, not stored',
      request({ cookie: 'session=alice' }),
      200,
      { 'last-modified': httpDate(-30 * 86400) },
      'credentials-without-freshness',
    ],
    [
      'request Cookie + only an ETag (revalidated with the next user’s cookie): not stored',
      request({ cookie: 'session=alice' }),
      200,
      { 'cache-control': 'no-cache', ...VALIDATED },
      'credentials-without-freshness',
    ],
    [
      'request Cookie + Last-Modified + max-age: explicit freshness, stored',
      request({ cookie: 'session=alice' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, ...FRESH },
      'storable',
    ],
    [
      'request Cookie + Last-Modified + Expires: explicit freshness, stored',
      request({ cookie: 'session=alice' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, expires: httpDate(60) },
      'storable',
    ],
    [
      'request Cookie + Last-Modified + public: stored (heuristic allowed)',
      request({ cookie: 'session=alice' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, 'cache-control': 'public' },
      'storable',
    ],
    [
      'request Cookie + Last-Modified + Vary: Cookie: keyed on the cookie, stored',
      request({ cookie: 'session=alice' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, vary: 'Accept-Encoding, Cookie' },
      'storable',
    ],
    [
      'request Cookie + Last-Modified + Vary without Cookie: not stored',
      request({ cookie: 'session=alice' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, vary: 'accept-encoding' },
      'credentials-without-freshness',
    ],
    [
      'request Authorization + must-revalidate + only Last-Modified: not stored',
      request({ authorization: 'Bearer x' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, 'cache-control': 'must-revalidate' },
      'credentials-without-freshness',
    ],
    [
      'request Authorization + Cookie + Vary: Cookie only: not stored',
      request({ authorization: 'Bearer x', cookie: 'a=b' }),
      200,
      { ...{ 'last-modified': httpDate(-30 * 86400) }, 'cache-control': 'must-revalidate', vary: 'cookie' },
      'credentials-without-freshness',
    ],
    [
      'no credentials + only Last-Modified: heuristic, stored',
      request(),
      200,
      { 'last-modified': httpDate(-30 * 86400) },
      'storable',
    ],
    // Never reusable (a saving, not an RFC rule)
    ['200 with nothing to go on is not written', request(), 200, {}, 'never-reusable'],
    // Stale on arrival but explicit: a request's max-stale / stale-if-error may use it (§5.2.1.2, RFC 5861 §4)
    ['max-age=0 without validator is kept', request(), 200, { 'cache-control': 'max-age=0' }, 'storable'],
    [
      'past Expires without validator is kept',
      request(),
      200,
      { date: httpDate(0), expires: httpDate(-60) },
      'storable',
    ],
    [
      's-maxage=0 without validator: never servable stale (§5.2.2.10)',
      request(),
      200,
      { 'cache-control': 's-maxage=0' },
      'never-reusable',
    ],
    [
      'max-age=0, proxy-revalidate without validator: never servable stale (§5.2.2.8)',
      request(),
      200,
      { 'cache-control': 'max-age=0, proxy-revalidate' },
      'never-reusable',
    ],
    [
      'max-age=0 with ETag is kept (revalidation)',
      request(),
      200,
      { 'cache-control': 'max-age=0', ...VALIDATED },
      'storable',
    ],
    [
      'heuristic candidate with Last-Modified is kept',
      request(),
      200,
      { date: httpDate(0), 'last-modified': httpDate(-100) },
      'storable',
    ],
    [
      'max-age=0 with stale-while-revalidate is kept',
      request(),
      200,
      { 'cache-control': 'max-age=0, stale-while-revalidate=60' },
      'storable',
    ],
    [
      'max-age=0 with stale-if-error is kept',
      request(),
      200,
      { 'cache-control': 'max-age=0, stale-if-error=60' },
      'storable',
    ],
    [
      'bare no-cache without validator is not written',
      request(),
      200,
      { 'cache-control': 'no-cache, max-age=3600' },
      'never-reusable',
    ],
    [
      'no-cache="field" without validator is kept',
      request(),
      200,
      { 'cache-control': 'no-cache="a", max-age=3600' },
      'storable',
    ],
    [
      'stale-if-error useless under must-revalidate',
      request(),
      200,
      { 'cache-control': 'max-age=0, must-revalidate, stale-if-error=60' },
      'never-reusable',
    ],
  ])('%s', (_rule, req, status, headers, reason) => {
    const decision = check(req, status, headers);
    expect(decision.reason).toBe(reason);
    expect(decision.storable).toBe(reason === 'storable');
  });

  test.each([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])(
    'heuristically cacheable %d is storable with only a validator (RFC 9110 §15.1)',
    (status) => {
      expect(check(request(), status, VALIDATED).storable).toBe(true);
    },
  );

  test.each([200, 201, 202, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599])(
    'any final status %d with explicit freshness is storable (§3)',
    (status) => {
      expect(check(request(), status, FRESH).storable).toBe(true);
    },
  );

  test.each<[string, HeaderMap, string]>([
    [
      'targeted max-age overrides Cache-Control no-store (RFC 9213 §2.1)',
      { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000' },
      'storable',
    ],
    [
      'targeted no-store overrides Cache-Control max-age',
      { 'cache-control': 'max-age=10000', 'cdn-cache-control': 'no-store', expires: httpDate(10_000) },
      'no-store',
    ],
    ['targeted private', { 'cdn-cache-control': 'private', 'cache-control': 'max-age=10000' }, 'private'],
    [
      'invalid targeted field falls back to Cache-Control no-store',
      { 'cdn-cache-control': 'max-age=10000, &&&&&', 'cache-control': 'no-store' },
      'no-store',
    ],
    [
      'wrongly typed targeted max-age falls back',
      { 'cdn-cache-control': 'max-age="10000"', 'cache-control': 'no-store' },
      'no-store',
    ],
  ])('%s', (_rule, headers, reason) => {
    expect(check(request(), 200, headers).reason).toBe(reason);
  });

  test('Expires does not count as permission when the targeted field governs (RFC 9213 §2.1)', () => {
    const headers = { expires: httpDate(60), etag: '"v1"' };
    expect(check(request(), 599, headers).reason).toBe('storable');
    expect(check(request(), 599, { ...headers, 'cdn-cache-control': 'stale-if-error=5' }).reason).toBe(
      'not-cacheable-status',
    );
  });

  test.each<[string, Partial<PolicyOptions>, string]>([
    ["a rule's ttl is the operator's explicit freshness", { ttl: 60 }, 'storable'],
    ["a rule's default-ttl too", { defaultTtl: 60 }, 'storable'],
    ["a rule's force", { force: true, ttl: 60 }, 'storable'],
    ["a rule's strip-cookies removes the request's Cookie", { stripCookies: true }, 'storable'],
    ['heuristics off: still not stored', { heuristics: false }, 'credentials-without-freshness'],
  ])('request Cookie + only Last-Modified, %s', (_label, overrides, reason) => {
    const headers = { 'last-modified': httpDate(-30 * 86400) };
    expect(check(request({ cookie: 'session=alice' }), 200, headers, options(overrides)).reason).toBe(reason);
  });

  test('grace keeps responses that could only be served stale', () => {
    expect(check(request(), 200, {}, options({ grace: 60 })).reason).toBe('storable');
  });
});

describe('requestForbidsStoring: a request no-store forbids storing any response to it, new or refreshing (RFC 9111 §5.2.1.5)', () => {
  test.each<[string, HeaderMap, boolean]>([
    ['no Cache-Control', {}, false],
    ['no-store', { 'cache-control': 'no-store' }, true],
    ['no-store among others', { 'cache-control': 'max-age=0, no-store' }, true],
    ['directive names are case-insensitive', { 'cache-control': 'No-Store' }, true],
    ['in a second Cache-Control line', { 'cache-control': ['max-age=0', 'no-store'] }, true],
    ['with an argument it still says no-store', { 'cache-control': 'no-store=1' }, true],
    ['no-cache only asks for validation', { 'cache-control': 'no-cache' }, false],
    ['Pragma: no-cache is no no-store', { pragma: 'no-cache' }, false],
    ['a longer token is another directive', { 'cache-control': 'no-storex' }, false],
    ['inside another directive’s quoted value', { 'cache-control': 'foo="no-store"' }, false],
    ['the response’s directive in a request means nothing more', { 'cache-control': 'private' }, false],
  ])('%s', (_case, headers, forbids) => {
    expect(requestForbidsStoring(headers)).toBe(forbids);
  });
});
