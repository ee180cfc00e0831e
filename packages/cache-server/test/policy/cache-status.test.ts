import { describe, expect, test } from '@jest/globals';
import type { CacheStatusInfo } from '@simple-cache/common';
import { appendCacheStatus, formatCacheStatus, forwardReasonFor } from '../../src/policy/cache-status.js';

describe('formatCacheStatus (RFC 9211 §2, RFC 8941)', () => {
  test.each<[string, string, CacheStatusInfo, string]>([
    ['name alone', 'simple-cache', {}, 'simple-cache'],
    ['hit is a bare boolean (RFC 8941 §4.1.1.2)', 'simple-cache', { hit: true }, 'simple-cache; hit'],
    ['false booleans are left out', 'simple-cache', { hit: false, stored: false, collapsed: false }, 'simple-cache'],
    ['hit with ttl (§2.1, §2.5)', 'c', { hit: true, ttl: 376 }, 'c; hit; ttl=376'],
    ['negative ttl when stale (§2.5)', 'c', { hit: true, ttl: -12 }, 'c; hit; ttl=-12'],
    ['fractional ttl rounded down to whole seconds', 'c', { ttl: 2.9 }, 'c; ttl=2'],
    ['fractional negative ttl rounded down', 'c', { ttl: -0.5 }, 'c; ttl=-1'],
    ['huge ttl clamped to an sf-integer (15 digits)', 'c', { ttl: 1e20 }, 'c; ttl=999999999999999'],
    ['non-finite ttl left out', 'c', { ttl: Number.NaN }, 'c'],
    ['fwd and fwd-status (§2.2, §2.3)', 'c', { fwd: 'uri-miss', fwdStatus: 200 }, 'c; fwd=uri-miss; fwd-status=200'],
    [
      'stored and collapsed (§2.6, §2.7)',
      'c',
      { fwd: 'miss', stored: true, collapsed: true },
      'c; fwd=miss; stored; collapsed',
    ],
    ['key is an sf-string (§2.8)', 'c', { key: 'http://h/a?b=1' }, 'c; key="http://h/a?b=1"'],
    ['quotes and backslashes escaped', 'c', { key: 'a"b\\c' }, 'c; key="a\\"b\\\\c"'],
    ['non-printable characters replaced', 'c', { key: 'a\u00e9\nb' }, 'c; key="a??b"'],
    ['detail as a token when it is one (§2.9)', 'c', { detail: 'no-store' }, 'c; detail=no-store'],
    ['detail as a string otherwise', 'c', { detail: 'status 500' }, 'c; detail="status 500"'],
    ['detail starting with a digit is not a token', 'c', { detail: '5xx' }, 'c; detail="5xx"'],
    ['name that is not a token becomes a string (§2)', 'my cache', { hit: true }, '"my cache"; hit'],
    ['name may contain ":" and "/" (sf-token)', 'cache.example:8080/x', {}, 'cache.example:8080/x'],
    [
      'fixed parameter order',
      'c',
      { detail: 'd', key: 'k', collapsed: true, stored: true, ttl: 1, fwdStatus: 304, fwd: 'stale', hit: true },
      'c; hit; fwd=stale; fwd-status=304; ttl=1; stored; collapsed; key="k"; detail=d',
    ],
    ['non-integer fwd-status left out', 'c', { fwd: 'miss', fwdStatus: 200.5 }, 'c; fwd=miss'],
  ])('%s', (_rule, name, info, expected) => {
    expect(formatCacheStatus(name, info)).toBe(expected);
  });
});

describe('appendCacheStatus (RFC 9211 §2: each cache adds itself on the right)', () => {
  test.each<[string, string | string[] | undefined, string]>([
    ['nothing upstream', undefined, 'me; hit'],
    ['empty upstream field', '', 'me; hit'],
    ['after the origin’s member', 'OriginCache; hit; ttl=1', 'OriginCache; hit; ttl=1, me; hit'],
    ['after a list', 'a; fwd=miss, b; hit', 'a; fwd=miss, b; hit, me; hit'],
    ['several field lines combine in order', ['a; hit', 'b; fwd=miss'], 'a; hit, b; fwd=miss, me; hit'],
    ['stray commas and whitespace trimmed', ' a; hit , ', 'a; hit, me; hit'],
    ['empty lines dropped', ['', 'a'], 'a, me; hit'],
  ])('%s', (_rule, existing, expected) => {
    expect(appendCacheStatus(existing, 'me; hit')).toBe(expected);
  });
});

describe('forwardReasonFor (RFC 9211 §2.2 fwd for a selected stored response)', () => {
  test.each<[string, string, number, 'request' | 'stale']>([
    ['fresh, request no-cache → request', 'request-no-cache', 10, 'request'],
    ['fresh, request max-age=0 → request', 'request-max-age', 10, 'request'],
    ['fresh, request min-fresh → request', 'request-min-fresh', 10, 'request'],
    ['stale anyway, request no-cache → stale', 'request-no-cache', -1, 'stale'],
    ['exactly expired, request max-age → stale', 'request-max-age', 0, 'stale'],
    ['stale → stale', 'stale', -5, 'stale'],
    ['stale and must-revalidate → stale', 'stale-forbidden', -5, 'stale'],
    ['response no-cache, even fresh → stale (§5.2.2.4)', 'response-no-cache', 100, 'stale'],
  ])('%s', (_rule, reason, ttl, expected) => {
    expect(forwardReasonFor({ reason, ttl })).toBe(expected);
  });
});
