import { describe, expect, test } from '@jest/globals';
import type { EntryMeta, HeaderMap, RuleConfig } from '@simple-cache/common';
import { ERRORS, type ErrorSpec } from '../../src/errors.js';
import type { HeldAnswer, Learnt } from '../../src/proxy/retry.js';
import { chooseRoute, type RouteInput } from '../../src/proxy/route.js';
import { compileRules } from '../../src/rules/index.js';
import { at, entry, options } from '../policy/fixtures.js';

/**
 * A route that asked the origin to revalidate a stale entry and got no usable response, or a
 * 5xx, reports it (Retry origin-failed) with the answer it held back; chooseRoute() decides
 * whether the stale entry answers instead (RFC 5861 §4 stale-if-error, RFC 9111 §4.2.4) or the
 * failure goes on to the client. One row per rule, as policy/'s tables.
 */
const KEY = 'http://origin.test/resource';
const HELD: HeldAnswer = { send: () => ({ retry: { kind: 'look-again' } }) };

/** Stored 120 s ago with max-age=60: stale for 60 s. */
function staleEntry(cacheControl: string): EntryMeta {
  return entry({ 'cache-control': cacheControl, etag: '"e"' }, { responseTime: at(-120), requestTime: at(-120) });
}
const PLAIN = staleEntry('max-age=60');
const SIE_600 = staleEntry('max-age=60, stale-if-error=600');
const SIE_30 = staleEntry('max-age=60, stale-if-error=30');
const MUST_REVALIDATE = staleEntry('max-age=60, must-revalidate, stale-if-error=600');
const PROXY_REVALIDATE = staleEntry('max-age=60, proxy-revalidate, stale-if-error=600');
const S_MAXAGE = staleEntry('s-maxage=60, stale-if-error=600');
const NO_CACHE = staleEntry('max-age=60, no-cache, stale-if-error=600');

type Failed = { error: ErrorSpec } | { status: number };
const unreachable: Failed = { error: ERRORS.originUnreachable };
const timedOut: Failed = { error: ERRORS.originTimeout };
const unreadable: Failed = { error: ERRORS.originBadResponse };
const tlsFailed: Failed = { error: ERRORS.originTls };
const status = (code: number): Failed => ({ status: code });

const RULE_GRACE: RuleConfig = { name: 'outage', match: { path: '/resource' }, grace: '10m' };
const RULE_SIE: RuleConfig = { name: 'sie', match: { path: '/resource' }, 'stale-if-error': '10m' };

function input(
  method: string,
  headers: HeaderMap,
  stale: EntryMeta,
  failed: Failed,
  rules: readonly RuleConfig[] = [],
  policy = options(),
): RouteInput {
  const learnt: Learnt = { kind: 'origin-failed', stale, fwd: 'stale', failed, held: HELD };
  return {
    method,
    headers,
    key: KEY,
    variants: [stale],
    learnt,
    now: at(0),
    rules: compileRules(rules, policy, 'http://origin.test').forRequest(method, KEY),
    rangeFetchMax: 16 * 1024 * 1024,
  };
}

const stale = (detail: string, fwdStatus?: number) => ({
  route: 'serve-stale',
  status: fwdStatus === undefined ? { fwd: 'stale', detail } : { fwd: 'stale', fwdStatus, detail },
});
const relay = { route: 'relay-failure' };

/** [rule, method, request headers, stored entry, how the origin failed, rules, expected]. */
type Row = [string, string, HeaderMap, EntryMeta, Failed, readonly RuleConfig[], object];

describe('chooseRoute after the origin failed a revalidation', () => {
  test.each<Row>([
    // RFC 9111 §4.2.4: a disconnected cache may serve stale (--disconnected-grace, a day by default).
    [
      'unreachable, no directive: disconnected grace',
      'GET',
      {},
      PLAIN,
      unreachable,
      [],
      stale('CACHE_ERR_ORIGIN_UNREACHABLE'),
    ],
    [
      'timed out (504 from us), no directive: disconnected grace',
      'GET',
      {},
      PLAIN,
      timedOut,
      [],
      stale('CACHE_ERR_ORIGIN_TIMEOUT'),
    ],
    // A response that could not be read is an answer, not a disconnection: it needs stale-if-error.
    ['unreadable response, no directive: the 502', 'GET', {}, PLAIN, unreadable, [], relay],
    ['TLS failure, no directive: the 502', 'GET', {}, PLAIN, tlsFailed, [], relay],
    [
      'unreadable response, stale-if-error=600',
      'GET',
      {},
      SIE_600,
      unreadable,
      [],
      stale('CACHE_ERR_ORIGIN_BAD_RESPONSE'),
    ],
    // RFC 5861 §4: a 5xx answer is served stale only within stale-if-error (or a rule's grace).
    ['500, no directive: relayed', 'GET', {}, PLAIN, status(500), [], relay],
    ['503, no directive: relayed', 'GET', {}, PLAIN, status(503), [], relay],
    ['504 from the origin is an answer, not a timeout: relayed', 'GET', {}, PLAIN, status(504), [], relay],
    ['500, stale-if-error=600: stale', 'GET', {}, SIE_600, status(500), [], stale('origin-status-500', 500)],
    ['502, stale-if-error=600: stale', 'GET', {}, SIE_600, status(502), [], stale('origin-status-502', 502)],
    ['504, stale-if-error=600: stale', 'GET', {}, SIE_600, status(504), [], stale('origin-status-504', 504)],
    ['500, stale-if-error=30, stale for 60 s: relayed', 'GET', {}, SIE_30, status(500), [], relay],
    // RFC 5861 §4: the request's stale-if-error too.
    [
      '500, request stale-if-error=600',
      'GET',
      { 'cache-control': 'stale-if-error=600' },
      PLAIN,
      status(500),
      [],
      stale('origin-status-500', 500),
    ],
    [
      '500, request stale-if-error=30 (stale for 60 s)',
      'GET',
      { 'cache-control': 'stale-if-error=30' },
      PLAIN,
      status(500),
      [],
      relay,
    ],
    [
      'unreadable, request stale-if-error=600',
      'GET',
      { 'cache-control': 'stale-if-error=600' },
      PLAIN,
      unreadable,
      [],
      stale('CACHE_ERR_ORIGIN_BAD_RESPONSE'),
    ],
    // The operator's rules (issue 14): a rule's grace or stale-if-error window.
    ['500, a rule’s grace of 10m', 'GET', {}, PLAIN, status(500), [RULE_GRACE], stale('origin-status-500', 500)],
    ['500, a rule’s stale-if-error of 10m', 'GET', {}, PLAIN, status(500), [RULE_SIE], stale('origin-status-500', 500)],
    [
      'unreadable, a rule’s grace of 10m',
      'GET',
      {},
      PLAIN,
      unreadable,
      [RULE_GRACE],
      stale('CACHE_ERR_ORIGIN_BAD_RESPONSE'),
    ],
    // RFC 9111 §4.2.4: what forbids serving stale forbids it whatever the failure.
    ['must-revalidate, 500 within stale-if-error: relayed', 'GET', {}, MUST_REVALIDATE, status(500), [], relay],
    ['must-revalidate, unreachable: the 502', 'GET', {}, MUST_REVALIDATE, unreachable, [], relay],
    ['must-revalidate, a rule’s grace: still relayed', 'GET', {}, MUST_REVALIDATE, status(500), [RULE_GRACE], relay],
    ['proxy-revalidate, timed out: the 504', 'GET', {}, PROXY_REVALIDATE, timedOut, [], relay],
    ['s-maxage, 500 within stale-if-error: relayed', 'GET', {}, S_MAXAGE, status(500), [], relay],
    ['no-cache, unreachable: the 502', 'GET', {}, NO_CACHE, unreachable, [], relay],
    // A HEAD's revalidation (RFC 9111 §4.3.5) fails the same way.
    ['HEAD, 503, stale-if-error=600: stale', 'HEAD', {}, SIE_600, status(503), [], stale('origin-status-503', 503)],
    ['HEAD, 503, no directive: relayed', 'HEAD', {}, PLAIN, status(503), [], relay],
    [
      'HEAD, unreachable: disconnected grace',
      'HEAD',
      {},
      PLAIN,
      unreachable,
      [],
      stale('CACHE_ERR_ORIGIN_UNREACHABLE'),
    ],
    ['HEAD, must-revalidate, timed out: the 504', 'HEAD', {}, MUST_REVALIDATE, timedOut, [], relay],
  ])('%s', (_name, method, headers, stored, failed, rules, expected) => {
    expect(chooseRoute(input(method, headers, stored, failed, rules))).toMatchObject(expected);
  });

  test('serve-stale carries the stale entry; relay-failure the answer the route held back', () => {
    expect(chooseRoute(input('GET', {}, SIE_600, status(500)))).toMatchObject({ route: 'serve-stale', entry: SIE_600 });
    const chosen = chooseRoute(input('GET', {}, PLAIN, status(500)));
    expect(chosen.route === 'relay-failure' && chosen.held).toBe(HELD);
  });

  test('--disconnected-grace bounds serving stale when the origin cannot be reached', () => {
    const none = options({ disconnectedGrace: 0 });
    expect(chooseRoute(input('GET', {}, PLAIN, unreachable, [], none))).toMatchObject(relay);
    const short = options({ disconnectedGrace: 30 });
    expect(chooseRoute(input('GET', {}, PLAIN, timedOut, [], short))).toMatchObject(relay);
    const long = options({ disconnectedGrace: 90 });
    expect(chooseRoute(input('GET', {}, PLAIN, timedOut, [], long))).toMatchObject(stale('CACHE_ERR_ORIGIN_TIMEOUT'));
  });

  test('--grace extends stale-if-error past its window', () => {
    const grace = options({ grace: 60 });
    expect(chooseRoute(input('GET', {}, SIE_30, status(500), [], grace))).toMatchObject(
      stale('origin-status-500', 500),
    );
    expect(chooseRoute(input('GET', {}, PLAIN, status(500), [], grace))).toMatchObject(stale('origin-status-500', 500));
    expect(chooseRoute(input('GET', {}, SIE_30, status(500), [], options({ grace: 20 })))).toMatchObject(relay);
  });
});
