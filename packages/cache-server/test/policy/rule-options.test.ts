import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import {
  decideStorable,
  decideUse,
  freshnessLifetime,
  mayServeStaleOnError,
  type PolicyOptions,
} from '../../src/policy/index.js';
import { at, entry, httpDate, options, request } from './fixtures.js';

/**
 * The operator's rules reach policy as PolicyOptions fields (seconds): one row per rule of what
 * each one overrides and what it leaves to the RFC.
 */
describe('freshnessLifetime with rule settings', () => {
  test.each<[string, HeaderMap, number, Partial<PolicyOptions>, number, string]>([
    ['ttl replaces max-age', { 'cache-control': 'max-age=10' }, 200, { ttl: 600 }, 600, 'rule-ttl'],
    ['ttl replaces s-maxage', { 'cache-control': 's-maxage=10, max-age=5' }, 200, { ttl: 60 }, 60, 'rule-ttl'],
    ['ttl replaces Expires', { expires: httpDate(10) }, 200, { ttl: 60 }, 60, 'rule-ttl'],
    ['ttl replaces a heuristic', { 'last-modified': httpDate(-10_000) }, 200, { ttl: 5 }, 5, 'rule-ttl'],
    ['ttl 0: stale at once', { 'cache-control': 'max-age=600' }, 200, { ttl: 0 }, 0, 'rule-ttl'],
    ['ttl on a 404 without any lifetime', {}, 404, { ttl: 60 }, 60, 'rule-ttl'],
    ['default-ttl yields to max-age', { 'cache-control': 'max-age=10' }, 200, { defaultTtl: 600 }, 10, 'max-age'],
    ['default-ttl yields to Expires', { expires: httpDate(20) }, 200, { defaultTtl: 600 }, 20, 'expires'],
    [
      'default-ttl replaces the heuristic',
      { 'last-modified': httpDate(-10_000) },
      200,
      { defaultTtl: 42 },
      42,
      'rule-default-ttl',
    ],
    ['default-ttl when nothing is said', {}, 200, { defaultTtl: 42 }, 42, 'rule-default-ttl'],
    [
      'default-ttl with force ignores the origin’s max-age',
      { 'cache-control': 'max-age=10' },
      200,
      { defaultTtl: 42, force: true },
      42,
      'rule-default-ttl',
    ],
    ['without rules, the RFC', { 'cache-control': 'max-age=10' }, 200, {}, 10, 'max-age'],
  ])('%s', (_what, headers, status, rule, lifetime, source) => {
    expect(freshnessLifetime(entry(headers, { status }), options(rule))).toEqual({ lifetime, source });
  });
});

describe('decideStorable with rule settings: ttl does not override the RFC’s refusals, force does', () => {
  test.each<[string, HeaderMap, HeaderMap, number, Partial<PolicyOptions>, string]>([
    ['ttl stores a response with no lifetime', {}, {}, 200, { ttl: 60 }, 'storable'],
    ['ttl stores a 500 (negative caching)', {}, {}, 500, { ttl: 5 }, 'storable'],
    ['no rule: a 500 without lifetime is not stored', {}, {}, 500, {}, 'not-cacheable-status'],
    ['default-ttl stores a 302', {}, {}, 302, { defaultTtl: 5 }, 'storable'],
    ['ttl keeps no-store', {}, { 'cache-control': 'no-store' }, 200, { ttl: 60 }, 'no-store'],
    ['ttl keeps private', {}, { 'cache-control': 'private' }, 200, { ttl: 60 }, 'private'],
    ['ttl keeps Set-Cookie', {}, { 'set-cookie': 'a=1' }, 200, { ttl: 60 }, 'set-cookie'],
    ['ttl keeps Authorization', { authorization: 'Bearer x' }, {}, 200, { ttl: 60 }, 'authorization'],
    ['force overrides no-store', {}, { 'cache-control': 'no-store' }, 200, { ttl: 60, force: true }, 'storable'],
    ['force overrides private', {}, { 'cache-control': 'private' }, 200, { ttl: 60, force: true }, 'storable'],
    [
      'force overrides the targeted field',
      {},
      { 'cdn-cache-control': 'no-store' },
      200,
      { ttl: 60, force: true },
      'storable',
    ],
    ['force overrides Set-Cookie', {}, { 'set-cookie': 'a=1' }, 200, { ttl: 60, force: true }, 'storable'],
    ['force overrides Authorization', { authorization: 'Bearer x' }, {}, 200, { ttl: 60, force: true }, 'storable'],
    [
      'force keeps the request’s no-store',
      { 'cache-control': 'no-store' },
      {},
      200,
      { ttl: 60, force: true },
      'request-no-store',
    ],
    ['force keeps Vary: *', {}, { vary: '*' }, 200, { ttl: 60, force: true }, 'vary-star'],
    ['force keeps 206 unstored', {}, {}, 206, { ttl: 60, force: true }, 'partial-content'],
    [
      'strip-cookies lifts the Set-Cookie refusal',
      {},
      { 'set-cookie': 'a=1', 'cache-control': 'max-age=60' },
      200,
      { stripCookies: true },
      'storable',
    ],
    [
      'a rule’s stale-if-error makes a lifetime-less response worth keeping',
      {},
      { 'cache-control': 'max-age=0' },
      200,
      { staleIfError: 60 },
      'storable',
    ],
  ])('%s', (_what, reqHeaders, resHeaders, status, rule, reason) => {
    expect(decideStorable(request(reqHeaders), { status, headers: resHeaders }, options(rule)).reason).toBe(reason);
  });
});

describe('decideUse and mayServeStaleOnError with rule settings', () => {
  test.each<[string, HeaderMap, Partial<PolicyOptions>, number, string, string]>([
    ['ttl keeps a max-age=0 response fresh', { 'cache-control': 'max-age=0' }, { ttl: 60 }, 30, 'fresh', 'fresh'],
    ['ttl ends freshness early', { 'cache-control': 'max-age=600' }, { ttl: 60 }, 61, 'revalidate', 'stale'],
    [
      'ttl keeps no-cache (validate every use)',
      { 'cache-control': 'no-cache' },
      { ttl: 60 },
      1,
      'revalidate',
      'response-no-cache',
    ],
    ['force drops no-cache', { 'cache-control': 'no-cache' }, { ttl: 60, force: true }, 1, 'fresh', 'fresh'],
    [
      'a rule’s stale-while-revalidate',
      { 'cache-control': 'max-age=10' },
      { staleWhileRevalidate: 30 },
      30,
      'stale-while-revalidate',
      'stale-while-revalidate',
    ],
    [
      '…replaces the response’s',
      { 'cache-control': 'max-age=10, stale-while-revalidate=300' },
      { staleWhileRevalidate: 5 },
      30,
      'revalidate',
      'stale',
    ],
    [
      'a forced no-store entry is used while forced',
      { 'cache-control': 'no-store' },
      { ttl: 60, force: true },
      1,
      'fresh',
      'fresh',
    ],
    [
      '…and not once nothing forces it (after a reload)',
      { 'cache-control': 'no-store, max-age=60' },
      {},
      1,
      'unusable',
      'not-shareable',
    ],
    ['…nor a private one', { 'cache-control': 'private, max-age=60' }, { ttl: 60 }, 1, 'unusable', 'not-shareable'],
  ])('%s', (_what, headers, rule, ageSeconds, action, reason) => {
    const decision = decideUse(request(), entry(headers), at(ageSeconds), options(rule));
    expect([decision.action, decision.reason]).toEqual([action, reason]);
  });

  test('the decision says where the lifetime came from', () => {
    expect(decideUse(request(), entry({}), at(1), options({ ttl: 60 })).source).toBe('rule-ttl');
    expect(decideUse(request(), entry({ 'cache-control': 'max-age=9' }), at(1), options()).source).toBe('max-age');
  });

  test.each<[string, HeaderMap, Partial<PolicyOptions>, number, boolean]>([
    ['a rule’s stale-if-error window', { 'cache-control': 'max-age=10' }, { staleIfError: 60 }, 69, true],
    ['…ends', { 'cache-control': 'max-age=10' }, { staleIfError: 60 }, 71, false],
    ['…replaces the response’s', { 'cache-control': 'max-age=10, stale-if-error=600' }, { staleIfError: 5 }, 30, false],
    ['…adds to grace', { 'cache-control': 'max-age=10' }, { staleIfError: 60, grace: 60 }, 129, true],
    ['a per-path grace', { 'cache-control': 'max-age=10' }, { grace: 30 }, 39, true],
    [
      'must-revalidate still forbids it',
      { 'cache-control': 'max-age=10, must-revalidate' },
      { staleIfError: 60 },
      20,
      false,
    ],
    [
      'unless forced',
      { 'cache-control': 'max-age=10, must-revalidate' },
      { ttl: 10, force: true, staleIfError: 60 },
      20,
      true,
    ],
  ])('%s', (_what, headers, rule, ageSeconds, servable) => {
    expect(mayServeStaleOnError(request(), entry(headers), at(ageSeconds), options(rule), 'error-status')).toBe(
      servable,
    );
  });
});
