import { describe, expect, test } from '@jest/globals';
import { loadConfig } from '../src/config/load-config.js';
import { policyOptionsFrom } from '../src/config/policy-options.js';

/** The options of the caching rulebook: flag > environment variable > default, validated once. */
describe('caching options (--heuristics, --heuristic-max-age, --grace, --targeted-field, …)', () => {
  const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env).config;

  test('defaults', () => {
    const config = load([]);
    expect(config).toMatchObject({
      heuristics: true,
      heuristicMaxAge: 86_400_000,
      grace: 0,
      disconnectedGrace: 86_400_000,
      targetedField: 'cdn-cache-control',
      stripTargetedField: false,
      rangeFetchMax: 16 * 1024 * 1024,
    });
    expect(policyOptionsFrom(config)).toEqual({
      heuristics: true,
      heuristicFraction: 0.1,
      heuristicMaxAge: 86_400,
      grace: 0,
      disconnectedGrace: 86_400,
      targetedField: 'cdn-cache-control',
      cacheName: 'simple-cache',
      stripTargetedField: false,
    });
  });

  test.each<[string[], Record<string, string>, Record<string, unknown>]>([
    [['--heuristics', 'off'], {}, { heuristics: false }],
    [[], { CACHE_HEURISTICS: 'off' }, { heuristics: false }],
    [['--heuristics=on'], { CACHE_HEURISTICS: 'off' }, { heuristics: true }],
    [['--heuristic-max-age', '1h'], {}, { heuristicMaxAge: 3_600_000 }],
    [[], { CACHE_HEURISTIC_MAX_AGE: '0' }, { heuristicMaxAge: 0 }],
    [['--grace', '10m'], {}, { grace: 600_000 }],
    [[], { CACHE_GRACE: '30s' }, { grace: 30_000 }],
    [['--disconnected-grace', '0'], {}, { disconnectedGrace: 0 }],
    [[], { CACHE_DISCONNECTED_GRACE: '2h' }, { disconnectedGrace: 7_200_000 }],
    [['--targeted-field', 'Acme-Cache-Control'], {}, { targetedField: 'acme-cache-control' }],
    [[], { CACHE_TARGETED_FIELD: 'Surrogate-Control' }, { targetedField: 'surrogate-control' }],
    [['--strip-targeted-field', 'on'], {}, { stripTargetedField: true }],
    [[], { CACHE_STRIP_TARGETED_FIELD: 'yes' }, { stripTargetedField: true }],
    [['--range-fetch-max', '1MiB'], {}, { rangeFetchMax: 1024 * 1024 }],
    [[], { CACHE_RANGE_FETCH_MAX: '0' }, { rangeFetchMax: 0 }],
  ])('%j %j → %j', (argv, env, expected) => {
    expect(load(argv, env)).toMatchObject(expected);
  });

  test('policy options are in seconds', () => {
    const policy = policyOptionsFrom(
      load(['--grace', '90s', '--disconnected-grace', '1h', '--heuristic-max-age', '2h', '--heuristics', 'off']),
    );
    expect(policy).toMatchObject({ grace: 90, disconnectedGrace: 3600, heuristicMaxAge: 7200, heuristics: false });
  });

  test.each<[string[], RegExp]>([
    [['--heuristics', 'maybe'], /invalid --heuristics "maybe": expected on or off/],
    [['--heuristic-max-age', 'forever'], /invalid --heuristic-max-age "forever": expected a duration/],
    [['--grace', '-1s'], /invalid --grace "-1s"/],
    [['--disconnected-grace', 'forever'], /invalid --disconnected-grace "forever": expected a duration/],
    [['--targeted-field', 'bad name'], /invalid --targeted-field "bad name": expected a header name/],
    [['--strip-targeted-field', 'x'], /invalid --strip-targeted-field "x"/],
    [['--range-fetch-max', 'big'], /invalid --range-fetch-max "big": expected a size/],
  ])('%j is refused with a message naming the option', (argv, message) => {
    expect(() => load(argv)).toThrow(message);
  });
});
