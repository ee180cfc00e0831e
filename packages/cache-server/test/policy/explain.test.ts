import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import {
  explainEntry,
  explainNothingStored,
  explainResponse,
  FRESHNESS_RULES,
  REUSE_RULES,
  STORABLE_RULES,
  type ExplainStep,
  type NextOutcome,
} from '../../src/policy/explain.js';
import type { PolicyOptions } from '../../src/policy/types.js';
import { at, entry, httpDate, options, request } from './fixtures.js';

const RFC = /^RFC (9111|9110|9213|5861|8246) §\d/;

function expectCited(steps: ExplainStep[]): void {
  for (const step of steps)
    expect({ check: step.check, rfc: step.rfc }).toEqual({ check: step.check, rfc: expect.stringMatching(RFC) });
}

describe('explainEntry: the stored variant, at now', () => {
  /** [rule, response headers, seconds since stored, expected next outcome, reason, RFC of that decision]. */
  test.each<[string, HeaderMap, number, NextOutcome, string, string]>([
    ['fresh within max-age', { 'cache-control': 'max-age=60' }, 10, 'hit', 'fresh', 'RFC 9111 §4.2'],
    ['stale past max-age', { 'cache-control': 'max-age=60', etag: '"a"' }, 61, 'revalidate', 'stale', 'RFC 9111 §4.3'],
    [
      'stale within stale-while-revalidate',
      { 'cache-control': 'max-age=60, stale-while-revalidate=30' },
      70,
      'stale-while-revalidate',
      'stale-while-revalidate',
      'RFC 5861 §3',
    ],
    [
      'stale and must-revalidate',
      { 'cache-control': 'max-age=60, must-revalidate, stale-while-revalidate=30' },
      70,
      'revalidate',
      'stale-forbidden',
      'RFC 9111 §4.2.4, §5.2.2.2',
    ],
    [
      'no-cache: validated on every use',
      { 'cache-control': 'max-age=600, no-cache', etag: '"a"' },
      1,
      'revalidate',
      'response-no-cache',
      'RFC 9111 §5.2.2.4',
    ],
    ['Vary: * matches nothing', { 'cache-control': 'max-age=60', vary: '*' }, 1, 'miss', 'vary-star', 'RFC 9111 §4.1'],
  ])('%s', (_rule, headers, seconds, outcome, reason, rfc) => {
    const vary = headers.vary === '*' ? { vary: ['*'] } : {};
    const explained = explainEntry(entry(headers, vary), at(seconds), options());
    expect(explained.next).toEqual({ outcome, reason, rfc });
    expect(explained.steps.find((step) => step.check === 'reuse')).toMatchObject({ reason, rfc });
    expectCited(explained.steps);
  });

  /** [rule, response headers, lifetime, source, RFC]. */
  test.each<[string, HeaderMap, number, string, string]>([
    ['s-maxage before max-age', { 'cache-control': 'max-age=10, s-maxage=99' }, 99, 's-maxage', 'RFC 9111 §5.2.2.10'],
    ['max-age', { 'cache-control': 'max-age=42' }, 42, 'max-age', 'RFC 9111 §5.2.2.1'],
    ['Expires − Date', { expires: httpDate(300) }, 300, 'expires', 'RFC 9111 §5.3'],
    ['heuristic: 10 % since Last-Modified', { 'last-modified': httpDate(-1000) }, 100, 'heuristic', 'RFC 9111 §4.2.2'],
    ['nothing', { etag: '"a"' }, 0, 'none', 'RFC 9111 §4.2.1'],
  ])('freshness from %s', (_rule, headers, lifetime, source, rfc) => {
    const explained = explainEntry(entry(headers), at(0), options());
    expect(explained.freshness).toEqual({ lifetime, source, reason: source, rfc });
    expect(explained.steps.find((step) => step.check === 'freshness')).toMatchObject({ reason: source, rfc });
  });

  test('age and ttl are the policy’s (RFC 9111 §4.2.3), Age field included', () => {
    const explained = explainEntry(entry({ 'cache-control': 'max-age=100', age: '30' }), at(20), options());
    expect(explained).toMatchObject({ age: 50, ttl: 50 });
    expect(explained.steps.find((step) => step.check === 'age')).toMatchObject({
      rfc: 'RFC 9111 §4.2.3',
      text: 'Current age 50 s: 50 s of freshness left.',
    });
  });

  test('the targeted field (CDN-Cache-Control) is named when it governs (RFC 9213 §2.1)', () => {
    const explained = explainEntry(
      entry({ 'cache-control': 'max-age=5', 'cdn-cache-control': 'max-age=300' }),
      at(10),
      options(),
    );
    expect(explained.next.outcome).toBe('hit');
    expect(explained.steps.find((step) => step.check === 'targeted-field')).toMatchObject({
      reason: 'cdn-cache-control',
      rfc: 'RFC 9213 §2.1',
    });
  });

  test('Surrogate-Control is named when it governs (W3C Edge Architecture 1.0 §3)', () => {
    const explained = explainEntry(
      entry({ 'cache-control': 'no-store', 'surrogate-control': 'max-age=300;simple-cache' }),
      at(10),
      options(),
    );
    expect(explained.next.outcome).toBe('hit');
    expect(explained.steps.find((step) => step.check === 'targeted-field')).toMatchObject({
      reason: 'surrogate-control',
      rfc: 'W3C Edge Architecture 1.0 §3',
      text: 'surrogate-control (max-age) governs this cache instead of Cache-Control and Expires.',
    });
  });

  test('the variant: the imagined request carries the values it was stored for (RFC 9111 §4.1)', () => {
    const variant: Partial<EntryMeta> = {
      vary: ['accept-language'],
      varyValues: { 'accept-language': 'fr' },
      variant: 'fr',
    };
    const explained = explainEntry(
      entry({ 'cache-control': 'max-age=60', vary: 'accept-language' }, variant),
      at(1),
      options(),
    );
    expect(explained.variant).toBe('fr');
    expect(explained.steps.find((step) => step.check === 'vary')?.text).toContain('accept-language: fr');
  });

  test('a request of our choosing: e.g. a reload (no-cache) revalidates (RFC 9111 §5.2.1.4)', () => {
    const explained = explainEntry(
      entry({ 'cache-control': 'max-age=60' }),
      at(1),
      options(),
      request({ 'cache-control': 'no-cache' }),
    );
    expect(explained.next).toEqual({ outcome: 'revalidate', reason: 'request-no-cache', rfc: 'RFC 9111 §5.2.1.4' });
  });

  /** [rule, response headers, seconds, options, served on a 5xx?, served when disconnected?, on-error reason, RFC]. */
  test.each<[string, HeaderMap, number, Partial<PolicyOptions>, boolean, boolean, string, string]>([
    [
      'fresh: the origin is not waited for',
      { 'cache-control': 'max-age=60' },
      1,
      {},
      true,
      true,
      'not-asked',
      'RFC 5861 §4',
    ],
    [
      'stale within stale-if-error',
      { 'cache-control': 'max-age=60, stale-if-error=60' },
      90,
      {},
      true,
      true,
      'stale-if-error',
      'RFC 5861 §4',
    ],
    [
      'stale past stale-if-error: only when disconnected',
      { 'cache-control': 'max-age=60, stale-if-error=60' },
      200,
      {},
      false,
      true,
      'disconnected',
      'RFC 9111 §4.2.4',
    ],
    [
      'stale past stale-if-error, --disconnected-grace 0',
      { 'cache-control': 'max-age=60, stale-if-error=60' },
      200,
      { disconnectedGrace: 0 },
      false,
      false,
      'error',
      'RFC 5861 §4',
    ],
    [
      'must-revalidate: never',
      { 'cache-control': 'max-age=60, must-revalidate' },
      200,
      {},
      false,
      false,
      'error',
      'RFC 5861 §4',
    ],
  ])('on origin error: %s', (_rule, headers, seconds, overrides, onStatus, disconnected, reason, rfc) => {
    const explained = explainEntry(entry(headers), at(seconds), options(overrides));
    expect([explained.servableOnError, explained.servableWhenDisconnected]).toEqual([onStatus, disconnected]);
    expect(explained.steps.find((step) => step.check === 'on-error')).toMatchObject({ reason, rfc });
  });

  test('an Age that is a number with a parameter or unit: a step says why the response is stale (§5.1)', () => {
    const explained = explainEntry(entry({ 'cache-control': 'max-age=3600', age: '10 seconds' }), at(1), options());
    expect(explained.freshness.lifetime).toBe(0);
    expect(explained.steps.find((step) => step.reason === 'untrusted-age')).toMatchObject({
      check: 'age',
      rfc: 'RFC 9111 §5.1',
    });
    const plain = explainEntry(entry({ 'cache-control': 'max-age=3600', age: '10' }), at(1), options());
    expect(plain.steps.some((step) => step.reason === 'untrusted-age')).toBe(false);
  });

  test('validators: a conditional request once stale, or a full one without (RFC 9111 §4.3.1)', () => {
    const withTag = explainEntry(entry({ 'cache-control': 'max-age=1', etag: '"v"' }), at(5), options());
    expect(withTag.steps.find((step) => step.check === 'validators')?.text).toContain('If-None-Match: "v"');
    const without = explainEntry(entry({ 'cache-control': 'max-age=1' }), at(5), options());
    expect(without.steps.find((step) => step.check === 'validators')?.reason).toBe('no-validator');
    expect(without.steps.find((step) => step.check === 'reuse')?.text).toContain('full request');
  });
});

describe('explainResponse: would the origin’s answer be stored, and by which rule?', () => {
  /** [rule, status, response headers, request headers, storable, reason, RFC]. */
  test.each<[string, number, HeaderMap, HeaderMap, boolean, string, string]>([
    ['storable', 200, { 'cache-control': 'max-age=60' }, {}, true, 'storable', 'RFC 9111 §3'],
    ['no-store', 200, { 'cache-control': 'no-store' }, {}, false, 'no-store', 'RFC 9111 §5.2.2.5'],
    ['private', 200, { 'cache-control': 'private, max-age=60' }, {}, false, 'private', 'RFC 9111 §5.2.2.7'],
    [
      'request no-store',
      200,
      { 'cache-control': 'max-age=60' },
      { 'cache-control': 'no-store' },
      false,
      'request-no-store',
      'RFC 9111 §5.2.1.5',
    ],
    [
      'Authorization without permission',
      200,
      { 'cache-control': 'max-age=60' },
      { authorization: 'Basic x' },
      false,
      'authorization',
      'RFC 9111 §3.5',
    ],
    ['Vary: *', 200, { 'cache-control': 'max-age=60', vary: '*' }, {}, false, 'vary-star', 'RFC 9111 §4.1'],
    ['status without heuristic freshness', 302, {}, {}, false, 'not-cacheable-status', 'RFC 9111 §3, RFC 9110 §15.1'],
    [
      'a 206 without Content-Range',
      206,
      { 'cache-control': 'max-age=60' },
      {},
      false,
      'partial-content-range',
      'RFC 9110 §14.4',
    ],
    [
      'a 206 stored as a part',
      206,
      { 'cache-control': 'max-age=60', 'content-range': 'bytes 0-4/10', 'content-length': '5' },
      {},
      true,
      'storable',
      'RFC 9111 §3',
    ],
    [
      'a 206 whose Content-Length disagrees with its Content-Range',
      206,
      { 'cache-control': 'max-age=60', 'content-range': 'bytes 4-9/10', 'content-length': '5' },
      {},
      false,
      'partial-length-mismatch',
      'RFC 9110 §14.4',
    ],
    [
      'must-understand, unknown status',
      299,
      { 'cache-control': 'must-understand, no-store, max-age=60' },
      {},
      false,
      'must-understand',
      'RFC 9111 §5.2.2.3',
    ],
    ['never reusable', 200, { 'cache-control': 'no-cache' }, {}, false, 'never-reusable', 'RFC 9111 §4.2'],
  ])('%s', (_rule, status, headers, requestHeaders, storable, reason, rfc) => {
    const explained = explainResponse(request(requestHeaders), { status, headers }, at(0), options());
    expect(explained.storable).toEqual({ storable, reason, rfc });
    expect(explained.steps[0]).toMatchObject({ check: 'storable', reason, rfc });
    expectCited(explained.steps);
  });
});

describe('the tables', () => {
  test('every rule cites an RFC section and says something', () => {
    for (const table of [STORABLE_RULES, REUSE_RULES, FRESHNESS_RULES] as Record<
      string,
      { rfc: string; text: string }
    >[]) {
      for (const [reason, rule] of Object.entries(table)) {
        expect({ reason, rfc: rule.rfc, text: rule.text.length > 3 }).toEqual({
          reason,
          rfc: expect.stringMatching(RFC),
          text: true,
        });
      }
    }
  });

  /** String literals a policy file gives as reasons, read from its source: `return 'x'`, `? 'x'`, `: 'x'`, `, 'x'`. */
  function reasonsIn(file: string, lines: RegExp, literal: RegExp): string[] {
    const source = readFileSync(path.resolve(import.meta.dirname, '../../src/policy', file), 'utf8');
    const found = source
      .split('\n')
      .filter((text) => lines.test(text))
      .flatMap((text) => [...text.matchAll(literal)].map((match) => match[1] as string));
    return [...new Set(found)];
  }

  test('every reason decideStorable gives has a row (so no explanation falls back to "unknown")', () => {
    const reasons = reasonsIn('storable.ts', /./, /(?:return |\? |: )'([a-z][a-z-]*)'/g);
    expect(reasons.length).toBeGreaterThan(10);
    for (const reason of reasons) expect({ reason, known: reason in STORABLE_RULES }).toEqual({ reason, known: true });
  });

  test('every reason decideUse gives has a row', () => {
    const reasons = reasonsIn('use.ts', /return \['/, /(?:, |\? |: )'([a-z][a-z-]*)'/g);
    expect(reasons.length).toBeGreaterThan(8);
    for (const reason of reasons) expect({ reason, known: reason in REUSE_RULES }).toEqual({ reason, known: true });
  });

  test('nothing stored: the next request is a miss (RFC 9111 §4)', () => {
    expect(explainNothingStored()).toEqual([
      expect.objectContaining({ check: 'lookup', reason: 'uri-miss', rfc: 'RFC 9111 §4' }),
    ]);
  });
});
