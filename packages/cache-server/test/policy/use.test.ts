import { describe, expect, test } from '@jest/globals';
import { requestDirectives } from '../../src/policy/cache-control.js';
import {
  decideUse,
  ageOf,
  decideUseFrom,
  isOnlyIfCached,
  mayServeStaleOnError,
  NO_REQUEST_DIRECTIVES,
  useFacts,
} from '../../src/policy/use.js';
import type { HeaderMap, PolicyOptions, UseDecision } from '../../src/policy/types.js';
import { at, entry, httpDate, options, request } from './fixtures.js';

type Expected = Pick<UseDecision, 'action' | 'reason'>;
/** [rule, response headers, request headers, seconds since the entry was received, expected]. */
type Row = [string, HeaderMap, HeaderMap, number, Expected];

const fresh: Expected = { action: 'fresh', reason: 'fresh' };
const stale: Expected = { action: 'revalidate', reason: 'stale' };
const forbidden: Expected = { action: 'revalidate', reason: 'stale-forbidden' };
const swr: Expected = { action: 'stale-while-revalidate', reason: 'stale-while-revalidate' };
const maxStale: Expected = { action: 'fresh', reason: 'request-max-stale' };

describe('decideUse (RFC 9111 §4)', () => {
  test.each<Row>([
    // Freshness (§4.2)
    ['fresh within max-age', { 'cache-control': 'max-age=60' }, {}, 59, fresh],
    ['stale at exactly max-age', { 'cache-control': 'max-age=60' }, {}, 60, stale],
    ['max-age=0 is stale at once', { 'cache-control': 'max-age=0', etag: '"a"' }, {}, 0, stale],
    ['Age header counts against max-age (§4.2.3)', { 'cache-control': 'max-age=10', age: '15' }, {}, 0, stale],
    ['an Age with a parameter: stale (§5.1)', { 'cache-control': 'max-age=3600', age: '5;x=1' }, {}, 0, stale],
    [
      'an invalid Age makes it stale (issue 13: stricter than §5.1)',
      { 'cache-control': 'max-age=3600', age: 'abc' },
      {},
      0,
      stale,
    ],
    ['fresh via Expires', { expires: httpDate(30) }, {}, 10, fresh],
    ['past Expires is stale', { expires: httpDate(-30) }, {}, 0, stale],
    ['heuristically fresh (§4.2.2)', { 'last-modified': httpDate(-1000) }, {}, 99, fresh],
    ['heuristically stale', { 'last-modified': httpDate(-1000) }, {}, 100, stale],
    [
      'stale without validators still revalidates (unconditional fetch)',
      { 'cache-control': 'max-age=1' },
      {},
      5,
      stale,
    ],
    ['immutable and fresh: served (RFC 8246)', { 'cache-control': 'max-age=60, immutable' }, {}, 1, fresh],
    [
      'immutable and fresh answers a reload (request max-age=0) unvalidated (RFC 8246 §2)',
      { 'cache-control': 'max-age=60, immutable' },
      { 'cache-control': 'max-age=0' },
      1,
      { action: 'fresh', reason: 'immutable' },
    ],
    [
      'immutable does not answer a force reload (request no-cache, RFC 8246 §2)',
      { 'cache-control': 'max-age=60, immutable' },
      { 'cache-control': 'no-cache' },
      1,
      { action: 'revalidate', reason: 'request-no-cache' },
    ],
    [
      'immutable still honours min-fresh',
      { 'cache-control': 'max-age=60, immutable' },
      { 'cache-control': 'min-fresh=100' },
      1,
      { action: 'revalidate', reason: 'request-min-fresh' },
    ],
    [
      'immutable once stale: a reload revalidates',
      { 'cache-control': 'max-age=2, immutable', etag: '"a"' },
      { 'cache-control': 'max-age=0' },
      5,
      { action: 'revalidate', reason: 'request-max-age' },
    ],
    ['immutable changes nothing once stale', { 'cache-control': 'max-age=2, immutable', etag: '"a"' }, {}, 5, stale],
    // Response directives (§5.2.2)
    [
      'no-cache: always revalidate, even fresh (§5.2.2.4)',
      { 'cache-control': 'max-age=10000, no-cache' },
      {},
      0,
      { action: 'revalidate', reason: 'response-no-cache' },
    ],
    [
      'no-cache any case',
      { 'cache-control': 'max-age=10000, No-CaChE' },
      {},
      0,
      { action: 'revalidate', reason: 'response-no-cache' },
    ],
    [
      'no-cache="field": served fresh (field stripped elsewhere)',
      { 'cache-control': 'no-cache="a", max-age=3600' },
      {},
      1,
      fresh,
    ],
    ['no-cache="field" once stale: revalidate', { 'cache-control': 'no-cache="a", max-age=1' }, {}, 5, stale],
    ['must-revalidate while fresh', { 'cache-control': 'max-age=10000, must-revalidate' }, {}, 1, fresh],
    [
      'must-revalidate forbids stale (§5.2.2.2)',
      { 'cache-control': 'max-age=2, must-revalidate' },
      { 'cache-control': 'max-stale' },
      5,
      forbidden,
    ],
    [
      'proxy-revalidate forbids stale (§5.2.2.8)',
      { 'cache-control': 'max-age=2, proxy-revalidate' },
      { 'cache-control': 'max-stale=100' },
      5,
      forbidden,
    ],
    [
      's-maxage forbids stale (§5.2.2.10)',
      { 'cache-control': 's-maxage=2' },
      { 'cache-control': 'max-stale' },
      5,
      forbidden,
    ],
    [
      'must-revalidate beats stale-while-revalidate',
      { 'cache-control': 'max-age=1, must-revalidate, stale-while-revalidate=60' },
      {},
      5,
      forbidden,
    ],
    [
      'Pragma: no-cache in a response is ignored (§5.4)',
      { 'cache-control': 'max-age=3600', pragma: 'no-cache' },
      {},
      1,
      fresh,
    ],
    // stale-while-revalidate (RFC 5861 §3)
    [
      'swr: stale within the window',
      { 'cache-control': 'max-age=0, stale-while-revalidate=3600', etag: '"a"' },
      {},
      10,
      swr,
    ],
    ['swr: window edge included', { 'cache-control': 'max-age=10, stale-while-revalidate=20' }, {}, 30, swr],
    ['swr: past the window', { 'cache-control': 'max-age=10, stale-while-revalidate=20' }, {}, 31, stale],
    ['swr=0 gives nothing', { 'cache-control': 'max-age=10, stale-while-revalidate=0' }, {}, 10, stale],
    ['swr with invalid value is ignored', { 'cache-control': 'max-age=10, stale-while-revalidate=abc' }, {}, 11, stale],
    ['swr in the targeted field', { 'cdn-cache-control': 'max-age=10, stale-while-revalidate=60' }, {}, 20, swr],
    [
      'swr does not bypass response no-cache',
      { 'cache-control': 'no-cache, stale-while-revalidate=60' },
      {},
      1,
      { action: 'revalidate', reason: 'response-no-cache' },
    ],
    // Request directives (§5.2.1)
    [
      'request no-cache revalidates a fresh entry (§5.2.1.4)',
      { 'cache-control': 'max-age=3600' },
      { 'cache-control': 'no-cache' },
      0,
      { action: 'revalidate', reason: 'request-no-cache' },
    ],
    [
      'request Pragma: no-cache counts as no-cache (§5.4)',
      { 'cache-control': 'max-age=3600' },
      { pragma: 'no-cache' },
      0,
      { action: 'revalidate', reason: 'request-no-cache' },
    ],
    [
      'request Pragma ignored when Cache-Control present',
      { 'cache-control': 'max-age=3600' },
      { pragma: 'no-cache', 'cache-control': 'max-stale' },
      0,
      fresh,
    ],
    [
      'request no-store does not forbid reuse (§5.2.1.5)',
      { 'cache-control': 'max-age=3600' },
      { 'cache-control': 'no-store' },
      0,
      fresh,
    ],
    [
      'request max-age=0 revalidates (§5.2.1.1)',
      { 'cache-control': 'max-age=3600' },
      { 'cache-control': 'max-age=0' },
      0.5,
      { action: 'revalidate', reason: 'request-max-age' },
    ],
    [
      'request max-age=0 at age exactly 0 is satisfied',
      { 'cache-control': 'max-age=3600' },
      { 'cache-control': 'max-age=0' },
      0,
      fresh,
    ],
    [
      'request max-age older than allowed',
      { 'cache-control': 'max-age=3600', age: '1800' },
      { 'cache-control': 'max-age=600' },
      0,
      { action: 'revalidate', reason: 'request-max-age' },
    ],
    ['request max-age satisfied', { 'cache-control': 'max-age=3600' }, { 'cache-control': 'max-age=600' }, 600, fresh],
    [
      'invalid request max-age is ignored',
      { 'cache-control': 'max-age=3600' },
      { 'cache-control': 'max-age=abc' },
      10,
      fresh,
    ],
    [
      'request max-age does not extend freshness',
      { 'cache-control': 'max-age=10' },
      { 'cache-control': 'max-age=600' },
      20,
      stale,
    ],
    [
      'request min-fresh not met (§5.2.1.3)',
      { 'cache-control': 'max-age=1500' },
      { 'cache-control': 'min-fresh=2000' },
      0,
      { action: 'revalidate', reason: 'request-min-fresh' },
    ],
    [
      'request min-fresh not met because of Age',
      { 'cache-control': 'max-age=1500', age: '1000' },
      { 'cache-control': 'min-fresh=1000' },
      0,
      { action: 'revalidate', reason: 'request-min-fresh' },
    ],
    ['request min-fresh met', { 'cache-control': 'max-age=1500' }, { 'cache-control': 'min-fresh=1000' }, 500, fresh],
    [
      'bare max-stale accepts any staleness (§5.2.1.2)',
      { 'cache-control': 'max-age=1' },
      { 'cache-control': 'max-stale' },
      100_000,
      maxStale,
    ],
    ['max-stale=N within N', { 'cache-control': 'max-age=1' }, { 'cache-control': 'max-stale=1000' }, 3, maxStale],
    [
      'max-stale=N with Age',
      { 'cache-control': 'max-age=1500', age: '2000' },
      { 'cache-control': 'max-stale=1000' },
      0,
      maxStale,
    ],
    ['max-stale=N exceeded', { 'cache-control': 'max-age=1' }, { 'cache-control': 'max-stale=10' }, 12, stale],
    [
      'max-stale=0 accepts nothing stale',
      { 'cache-control': 'max-age=1' },
      { 'cache-control': 'max-stale=0' },
      1,
      stale,
    ],
    [
      'invalid max-stale value is ignored',
      { 'cache-control': 'max-age=1' },
      { 'cache-control': 'max-stale=-5' },
      3,
      stale,
    ],
    [
      'swr is preferred to max-stale (it refreshes)',
      { 'cache-control': 'max-age=1, stale-while-revalidate=60' },
      { 'cache-control': 'max-stale' },
      3,
      swr,
    ],
    [
      'max-stale does not beat response no-cache',
      { 'cache-control': 'max-age=1, no-cache' },
      { 'cache-control': 'max-stale' },
      3,
      { action: 'revalidate', reason: 'response-no-cache' },
    ],
    [
      'only-if-cached does not change the decision',
      { 'cache-control': 'max-age=60' },
      { 'cache-control': 'only-if-cached' },
      1,
      fresh,
    ],
    // Targeted field (RFC 9213)
    [
      'targeted no-cache beats Cache-Control max-age',
      { 'cdn-cache-control': 'no-cache', 'cache-control': 'max-age=10000' },
      {},
      0,
      { action: 'revalidate', reason: 'response-no-cache' },
    ],
    [
      'targeted short max-age beats Cache-Control long max-age',
      { 'cdn-cache-control': 'max-age=1', 'cache-control': 'max-age=3600' },
      {},
      3,
      stale,
    ],
    [
      'targeted long max-age beats Cache-Control short max-age',
      { 'cdn-cache-control': 'max-age=3600', 'cache-control': 'max-age=1' },
      {},
      3,
      fresh,
    ],
    [
      'targeted max-age beats its Age header only if larger',
      { 'cdn-cache-control': 'max-age=3600', age: '7200' },
      {},
      0,
      stale,
    ],
  ])('%s', (_rule, responseHeaders, requestHeaders, seconds, expected) => {
    const decision = decideUse(request(requestHeaders), entry(responseHeaders), at(seconds), options());
    expect({ action: decision.action, reason: decision.reason }).toEqual(expected);
    // The fast path computes the facts once per stored response and reuses them for every hit:
    // facts taken at storage time must decide as decideUse does at any later moment.
    const facts = useFacts(entry(responseHeaders), options());
    const directives =
      Object.keys(requestHeaders).length === 0 ? NO_REQUEST_DIRECTIVES : requestDirectives(requestHeaders);
    for (const later of [0, seconds, seconds + 0.5, seconds + 3600]) {
      const expectedLater = decideUse(request(requestHeaders), entry(responseHeaders), at(later), options());
      expect(decideUseFrom(directives, facts, at(later))).toEqual(expectedLater);
      // Without request directives the fast path decides again only when ageOf changes.
      if (directives !== NO_REQUEST_DIRECTIVES) continue;
      expect(ageOf(facts, at(later))).toBe(expectedLater.age);
      for (const ms of [1, 250, 999, 1000]) {
        const moment = at(later) + ms;
        if (ageOf(facts, moment) === expectedLater.age) {
          expect(decideUseFrom(directives, facts, moment)).toEqual(expectedLater);
        }
      }
    }
  });

  test('age and ttl are reported', () => {
    const decision = decideUse(request(), entry({ 'cache-control': 'max-age=100', age: '10' }), at(20), options());
    expect(decision).toEqual({ action: 'fresh', reason: 'fresh', age: 30, ttl: 70, source: 'max-age' });
  });

  test('Vary: * entries are never used (RFC 9111 §4.1)', () => {
    const decision = decideUse(request(), entry({ 'cache-control': 'max-age=100' }, { vary: ['*'] }), at(0), options());
    expect(decision.action).toBe('unusable');
    expect(decision.reason).toBe('vary-star');
  });

  test('heuristics off: a Last-Modified-only entry is stale', () => {
    const decision = decideUse(
      request(),
      entry({ 'last-modified': httpDate(-1000) }),
      at(1),
      options({ heuristics: false }),
    );
    expect(decision.action).toBe('revalidate');
  });
});

describe('isOnlyIfCached (RFC 9111 §5.2.1.7)', () => {
  test.each<[string, HeaderMap, boolean]>([
    ['directive present', { 'cache-control': 'only-if-cached' }, true],
    ['among others, any case', { 'cache-control': 'max-stale, Only-If-Cached' }, true],
    ['absent', { 'cache-control': 'max-age=0' }, false],
    ['no Cache-Control', {}, false],
  ])('%s', (_rule, headers, expected) => {
    expect(isOnlyIfCached(request(headers))).toBe(expected);
  });
});

describe('mayServeStaleOnError (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  const sie = (seconds: number) => ({ 'cache-control': `max-age=0, stale-if-error=${seconds}` });
  /**
   * [rule, response headers, request headers, seconds since received, options,
   *  served when the origin answers 5xx?, served when it cannot be reached (disconnected)?].
   */
  test.each<[string, HeaderMap, HeaderMap, number, Partial<PolicyOptions>, boolean, boolean]>([
    ['fresh entry: always', { 'cache-control': 'max-age=60' }, {}, 1, {}, true, true],
    // RFC 9111 §4.2.4: a disconnected cache may serve stale; an error status needs permission.
    ['stale, no stale-if-error, no grace: disconnected only', { 'cache-control': 'max-age=1' }, {}, 2, {}, false, true],
    ['disconnected: within the default day', { 'cache-control': 'max-age=1' }, {}, 86_401, {}, false, true],
    ['disconnected: past the default day', { 'cache-control': 'max-age=1' }, {}, 86_402, {}, false, false],
    [
      'disconnected: --disconnected-grace 0 turns it off',
      { 'cache-control': 'max-age=1' },
      {},
      2,
      { disconnectedGrace: 0 },
      false,
      false,
    ],
    [
      'disconnected: a shorter --disconnected-grace',
      { 'cache-control': 'max-age=1' },
      {},
      62,
      { disconnectedGrace: 60 },
      false,
      false,
    ],
    ['disconnected: a longer stale-if-error wins', sie(100_000), {}, 90_000, {}, true, true],
    [
      'disconnected: grace counts too',
      { 'cache-control': 'max-age=0' },
      {},
      30,
      { grace: 60, disconnectedGrace: 0 },
      true,
      true,
    ],
    ['disconnected: without any freshness information', {}, {}, 5, {}, false, true],
    // RFC 5861 §4
    ['response stale-if-error within the window', sie(3600), {}, 100, {}, true, true],
    [
      'response stale-if-error window edge included',
      { 'cache-control': 'max-age=10, stale-if-error=20' },
      {},
      30,
      {},
      true,
      true,
    ],
    ['response stale-if-error expired', sie(1), {}, 3, { disconnectedGrace: 0 }, false, false],
    [
      'request stale-if-error within the window',
      { 'cache-control': 'max-age=0' },
      { 'cache-control': 'stale-if-error=3600' },
      100,
      {},
      true,
      true,
    ],
    [
      'request stale-if-error expired',
      { 'cache-control': 'max-age=0' },
      { 'cache-control': 'stale-if-error=1' },
      3,
      {},
      false,
      true,
    ],
    [
      'the larger of response and request windows',
      sie(5),
      { 'cache-control': 'stale-if-error=50' },
      30,
      {},
      true,
      true,
    ],
    ['invalid stale-if-error ignored', { 'cache-control': 'max-age=0, stale-if-error=x' }, {}, 1, {}, false, true],
    ['grace alone', { 'cache-control': 'max-age=1' }, {}, 30, { grace: 60 }, true, true],
    ['grace exceeded', { 'cache-control': 'max-age=1' }, {}, 100, { grace: 60, disconnectedGrace: 0 }, false, false],
    ['grace adds to stale-if-error', sie(10), {}, 60, { grace: 60 }, true, true],
    // RFC 9111 §4.2.4: what forbids serving stale forbids it whatever the failure.
    [
      'never with must-revalidate',
      { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=60' },
      {},
      2,
      { grace: 60 },
      false,
      false,
    ],
    [
      'never with proxy-revalidate',
      { 'cache-control': 'max-age=1, proxy-revalidate, stale-if-error=60' },
      {},
      2,
      {},
      false,
      false,
    ],
    ['never with s-maxage', { 'cache-control': 's-maxage=1, stale-if-error=60' }, {}, 2, {}, false, false],
    ['never with no-cache', { 'cache-control': 'no-cache, stale-if-error=60' }, {}, 2, {}, false, false],
    ['no-cache="field" does not forbid it', { 'cache-control': 'max-age=1, no-cache="x-a"' }, {}, 2, {}, false, true],
    [
      'must-revalidate in the targeted field',
      { 'cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=1, must-revalidate' },
      {},
      2,
      {},
      false,
      false,
    ],
    [
      'stale-if-error in the targeted field',
      { 'cdn-cache-control': 'max-age=0, stale-if-error=60' },
      {},
      30,
      {},
      true,
      true,
    ],
  ])('%s', (_rule, responseHeaders, requestHeaders, seconds, overrides, onStatus, disconnected) => {
    const [req, stored, now, opts] = [request(requestHeaders), entry(responseHeaders), at(seconds), options(overrides)];
    expect(mayServeStaleOnError(req, stored, now, opts, 'error-status')).toBe(onStatus);
    expect(mayServeStaleOnError(req, stored, now, opts, 'disconnected')).toBe(disconnected);
  });
});
