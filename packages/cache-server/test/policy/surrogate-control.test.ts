import { describe, expect, test } from '@jest/globals';
import type { HeaderMap } from '@simple-cache/common';
import { responseControl, type ControlSource } from '../../src/policy/response-control.js';
import { parseSurrogateControl } from '../../src/policy/surrogate-control.js';
import { decideStorable } from '../../src/policy/storable.js';
import { freshnessLifetime } from '../../src/policy/freshness.js';
import { decideUse, mayServeStaleOnError } from '../../src/policy/use.js';
import {
  clientResponseHeaders,
  forwardRequestHeaders,
  forwardResponseHeaders,
  storedResponseHeaders,
} from '../../src/policy/headers.js';
import { at, entry, httpDate, options, request } from './fixtures.js';

/** What the cache decides for a response: stored?, lifetime (s), and which field governed. */
interface Decision {
  stored: boolean;
  lifetime: number;
  source: ControlSource;
}

const stored = (lifetime: number, source: ControlSource = 'surrogate-control'): Decision => ({
  stored: true,
  lifetime,
  source,
});
const notStored = (source: ControlSource = 'surrogate-control'): Decision => ({ stored: false, lifetime: 0, source });

function decide(headers: HeaderMap, cacheName = 'simple-cache'): Decision {
  const opts = options({ cacheName });
  const storable = decideStorable(request(), { status: 200, headers }, opts);
  const lifetime = storable.storable ? freshnessLifetime(entry(headers), opts).lifetime : 0;
  return { stored: storable.storable, lifetime, source: responseControl(headers, opts).source };
}

/** W3C Edge Architecture 1.0 §2.2, §3: one row per directive, form and precedence pair. */
describe('Surrogate-Control (W3C Edge Architecture 1.0)', () => {
  const sc = (value: string | string[]): HeaderMap => ({ 'surrogate-control': value });

  test.each<[string, HeaderMap, Decision]>([
    // Directives (§2.2)
    ['max-age', sc('max-age=60'), stored(60)],
    ['max-age=0: stored, stale at once', { ...sc('max-age=0'), etag: '"a"' }, stored(0)],
    ['max-age quoted', sc('max-age="60"'), stored(60)],
    ['MAX-AGE in any case', sc('MAX-AGE=60'), stored(60)],
    ['no-store', sc('no-store'), notStored()],
    ['max-age=X+Y: X is the lifetime', sc('max-age=60+30'), stored(60)],
    ['max-age=X+invalid: X kept', sc('max-age=60+soon'), stored(60)],
    ['no-store-remote: for remote surrogates, not this local one', sc('no-store-remote, max-age=60'), stored(60)],
    [
      'no-store-remote alone: Cache-Control decides',
      { ...sc('no-store-remote'), 'cache-control': 'max-age=5' },
      stored(5, 'cache-control'),
    ],
    [
      'content="ESI/1.0" alone is not a caching directive',
      { ...sc('content="ESI/1.0"'), 'cache-control': 'max-age=5' },
      stored(5, 'cache-control'),
    ],
    ['content and max-age', sc('content="ESI/1.0", max-age=60'), stored(60)],
    ['several lines', sc(['content="ESI/1.0"', 'max-age=60']), stored(60)],
    // Targets (§3)
    ['targeted at this cache', sc('max-age=60;simple-cache'), stored(60)],
    ['the device token in any case', sc('max-age=60;Simple-Cache'), stored(60)],
    [
      'targeted at another surrogate only: Cache-Control decides',
      { ...sc('max-age=60;abc'), 'cache-control': 'max-age=5' },
      stored(5, 'cache-control'),
    ],
    ['no-store for another surrogate: ignored', sc('max-age=60, no-store;abc'), stored(60)],
    [
      'the most specific applies: no-store for us beats a generic max-age (§3 example)',
      sc('max-age=60, no-store;simple-cache'),
      notStored(),
    ],
    [
      'the most specific applies: our max-age, not the generic no-store',
      sc('no-store, max-age=60;simple-cache'),
      stored(60),
    ],
    ['our own max-age beats the generic one', sc('max-age=5, max-age=60;simple-cache'), stored(60)],
    [
      'an invalid targeted member is dropped: the generic one applies',
      sc('max-age=abc;simple-cache, max-age=60'),
      stored(60),
    ],
    [
      'content targeted at us does not hide the generic max-age',
      sc('max-age=60, content="ESI/1.0";simple-cache'),
      stored(60),
    ],
    ['a quoted ";" is not a target', sc('ext="a;b", max-age=60'), stored(60)],
    // Invalid values: ignored, Cache-Control decides
    ['max-age=-1 ignored', { ...sc('max-age=-1'), 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
    ['max-age=abc ignored', { ...sc('max-age=abc'), 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
    ['max-age=1.5 ignored', { ...sc('max-age=1.5'), 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
    ['"max-age =60" ignored', { ...sc('max-age =60'), 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
    ['an empty field is ignored', { ...sc(''), 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
    [
      'two different max-ages: stale, as in Cache-Control (RFC 9111 §4.2.1)',
      { ...sc('max-age=60, max-age=120'), etag: '"a"' },
      stored(0),
    ],
    // Precedence: targeted field > Surrogate-Control > Cache-Control / Expires
    [
      'Surrogate-Control max-age beats Cache-Control max-age',
      { ...sc('max-age=60'), 'cache-control': 'max-age=5' },
      stored(60),
    ],
    ['Surrogate-Control max-age beats s-maxage', { ...sc('max-age=60'), 'cache-control': 's-maxage=5' }, stored(60)],
    [
      'Surrogate-Control no-store beats a fresh Cache-Control',
      { ...sc('no-store'), 'cache-control': 'max-age=3600' },
      notStored(),
    ],
    [
      'Surrogate-Control max-age beats Cache-Control no-store',
      { ...sc('max-age=3600'), 'cache-control': 'no-store' },
      stored(3600),
    ],
    [
      'Surrogate-Control max-age beats Cache-Control private',
      { ...sc('max-age=3600'), 'cache-control': 'private' },
      stored(3600),
    ],
    ['Surrogate-Control max-age beats a future Expires', { ...sc('max-age=60'), expires: httpDate(3600) }, stored(60)],
    ['Surrogate-Control max-age beats a past Expires', { ...sc('max-age=60'), expires: httpDate(-3600) }, stored(60)],
    ['Surrogate-Control no-store beats a future Expires', { ...sc('no-store'), expires: httpDate(3600) }, notStored()],
    [
      'CDN-Cache-Control beats Surrogate-Control',
      { ...sc('max-age=60'), 'cdn-cache-control': 'max-age=10', 'cache-control': 'max-age=5' },
      stored(10, 'targeted-field'),
    ],
    [
      'CDN-Cache-Control no-store beats Surrogate-Control max-age',
      { ...sc('max-age=60'), 'cdn-cache-control': 'no-store' },
      notStored('targeted-field'),
    ],
    [
      'CDN-Cache-Control max-age beats Surrogate-Control no-store',
      { ...sc('no-store'), 'cdn-cache-control': 'max-age=60' },
      stored(60, 'targeted-field'),
    ],
    [
      'an invalid CDN-Cache-Control: Surrogate-Control decides',
      { ...sc('max-age=60'), 'cdn-cache-control': 'max-age=10, &&', 'cache-control': 'max-age=5' },
      stored(60),
    ],
    ['no Surrogate-Control: Cache-Control decides', { 'cache-control': 'max-age=5' }, stored(5, 'cache-control')],
  ])('%s', (_rule, headers, expected) => {
    expect(decide(headers)).toEqual(expected);
  });

  test('the device token is the configured --name', () => {
    const headers = { ...sc('max-age=5, max-age=60;edge-1') };
    expect(decide(headers, 'edge-1').lifetime).toBe(60);
    expect(decide(headers).lifetime).toBe(5);
  });

  test('an Age counts against the Surrogate-Control lifetime (RFC 9111 §4.2.3)', () => {
    const opts = options();
    expect(decideUse(request(), entry({ ...sc('max-age=60'), age: '30' }), at(10), opts).action).toBe('fresh');
    expect(decideUse(request(), entry({ ...sc('max-age=60'), age: '100' }), at(0), opts).action).toBe('revalidate');
  });

  test('max-age=X+Y: served stale for Y seconds when the origin fails (read as stale-if-error)', () => {
    const opts = options({ disconnectedGrace: 0 });
    const stale = entry(sc('max-age=10+60'));
    expect(parseSurrogateControl('max-age=10+60', 'simple-cache')?.get('stale-if-error')).toBe('60');
    expect(mayServeStaleOnError(request(), stale, at(70), opts, 'error-status')).toBe(true);
    expect(mayServeStaleOnError(request(), stale, at(71), opts, 'error-status')).toBe(false);
  });

  test('must-revalidate in Surrogate-Control forbids serving stale; stale-while-revalidate applies', () => {
    const opts = options();
    expect(decideUse(request(), entry(sc('max-age=10, must-revalidate')), at(20), opts).reason).toBe('stale-forbidden');
    expect(decideUse(request(), entry(sc('max-age=10, stale-while-revalidate=60')), at(20), opts).action).toBe(
      'stale-while-revalidate',
    );
  });

  test('a targeted field configured as Surrogate-Control is read only as a Dictionary (RFC 9213)', () => {
    const opts = options({ targetedField: 'surrogate-control' });
    expect(responseControl({ ...sc('max-age=60'), 'cache-control': 'max-age=5' }, opts).source).toBe('targeted-field');
    expect(responseControl({ ...sc('max-age=60;x, &&'), 'cache-control': 'max-age=5' }, opts).source).toBe(
      'cache-control',
    );
  });
});

describe('Surrogate-Control and Surrogate-Capability on the wire (W3C Edge Architecture 1.0 §2.1, §2.2)', () => {
  const headers = { 'surrogate-control': 'max-age=60', 'cache-control': 'no-store', etag: '"a"' };

  test('stored with the response (freshness reads it), never passed on', () => {
    expect(storedResponseHeaders(headers, options())['surrogate-control']).toBe('max-age=60');
    expect(clientResponseHeaders(entry(headers), { age: 0, stripFields: [], targetedField: '' })).not.toHaveProperty(
      'surrogate-control',
    );
    expect(forwardResponseHeaders(headers, '')).toEqual({ 'cache-control': 'no-store', etag: '"a"' });
  });

  test.each<[string, HeaderMap, string]>([
    ['announced on every request to the origin', {}, 'simple-cache="Surrogate/1.0"'],
    [
      "a client's own Surrogate-Capability is replaced",
      { 'surrogate-capability': 'evil="Surrogate/1.0 ESI/1.0"' },
      'simple-cache="Surrogate/1.0"',
    ],
  ])('Surrogate-Capability: %s', (_rule, client, expected) => {
    const via = { clientIp: '10.0.0.1', proto: 'http' as const, name: 'simple-cache', originHost: 'o.test' };
    expect(forwardRequestHeaders(client, via)['surrogate-capability']).toBe(expected);
  });
});
