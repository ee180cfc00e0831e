// @system-packages nginx-light
import { describeDifferential, type Case, type Step } from './helpers/nginx-differential.js';
import { wireRequest } from './helpers/wire-client.js';

/**
 * Caching decisions through nginx's proxy_cache and through the cache, in front of one origin:
 * what is stored, what is served from storage, conditional requests, ranges, request directives.
 * Differences must be rows of the one table in docs/testing.md.
 */
const get = (target: string, ...fields: string[]): Step => ({
  requests: [wireRequest('GET', target, ['Host: x', ...fields])],
});
const head = (target: string, ...fields: string[]): Step => ({
  requests: [wireRequest('HEAD', target, ['Host: x', ...fields])],
});

/** A response stored by a first GET, then the requests of `then` against it. */
const stored = (id: string, route: string, ...then: ((target: string) => Step)[]): Case => ({
  id,
  steps: (b) => [get(`${b}/${route}`), ...then.map((step) => step(`${b}/${route}`))],
});
const again = (target: string) => get(target);
const withFields =
  (...fields: string[]) =>
  (target: string) =>
    get(target, ...fields);

const FUTURE = 'Sat, 01 Jan 2050 00:00:00 GMT';
const PAST = 'Sat, 01 Jan 2000 00:00:00 GMT';

const CASES: Case[] = [
  // What may be stored (RFC 9111 §3) and reused (§4).
  ...[
    'cacheable',
    'no-store',
    'private',
    'no-cache',
    'set-cookie',
    'set-cookie-public',
    'vary-star',
    's-maxage',
    'expires',
    'heuristic',
    'no-freshness',
    'status-404',
    'status-500',
    'status-301',
    'status-204',
    'chunked',
    'age-stale',
    'expires-invalid',
    'max-age-over-expires',
    'no-cache-field',
    'status-302',
    'status-307',
    'status-410',
    'large',
  ].map((route) => stored(`twice-${route}`, route, again)),
  {
    id: 'vary-encoding',
    steps: (b) => [
      get(`${b}/vary-encoding`, 'Accept-Encoding: gzip, br'),
      get(`${b}/vary-encoding`, 'Accept-Encoding: br, gzip'),
      get(`${b}/vary-encoding`, 'Accept-Encoding: GZIP,br'),
      get(`${b}/vary-encoding`),
    ],
  },
  stored('range-large', 'large', withFields('Range: bytes=1048570-1048600')),
  stored('range-large-multi', 'large', withFields('Range: bytes=0-15,2097136-')),
  {
    id: 'head-then-get',
    steps: (b) => [head(`${b}/cacheable`), get(`${b}/cacheable`), head(`${b}/cacheable`)],
  },
  {
    id: 'vary-variants',
    steps: (b) => [
      get(`${b}/vary`, 'X-V: a'),
      get(`${b}/vary`, 'X-V: b'),
      get(`${b}/vary`, 'X-V: a'),
      get(`${b}/vary`),
      get(`${b}/vary`, 'X-V: b'),
    ],
  },
  // Conditional requests answered from storage (RFC 9111 §4.3.2, RFC 9110 §13).
  stored('inm-match', 'cacheable', withFields('If-None-Match: "v1"')),
  stored('inm-weak-match', 'cacheable', withFields('If-None-Match: W/"v1"')),
  stored('inm-list', 'cacheable', withFields('If-None-Match: "x", "v1"')),
  stored('inm-star', 'cacheable', withFields('If-None-Match: *')),
  stored('inm-other', 'cacheable', withFields('If-None-Match: "v2"')),
  stored('ims-future', 'cacheable', withFields(`If-Modified-Since: ${FUTURE}`)),
  stored('ims-past', 'cacheable', withFields(`If-Modified-Since: ${PAST}`)),
  stored('ims-invalid', 'cacheable', withFields('If-Modified-Since: yesterday')),
  stored('inm-and-ims', 'cacheable', withFields('If-None-Match: "v2"', `If-Modified-Since: ${FUTURE}`)),
  stored('if-match-other', 'cacheable', withFields('If-Match: "v2"')),
  stored('if-match-same', 'cacheable', withFields('If-Match: "v1"')),
  stored('ius-past', 'cacheable', withFields(`If-Unmodified-Since: ${PAST}`)),
  stored('head-inm-match', 'cacheable', (t) => head(t, 'If-None-Match: "v1"')),
  { id: 'inm-on-miss', steps: (b) => [get(`${b}/cacheable`, 'If-None-Match: "v1"'), get(`${b}/cacheable`)] },
  { id: 'ims-on-miss', steps: (b) => [get(`${b}/cacheable`, `If-Modified-Since: ${FUTURE}`)] },
  // Ranges (RFC 9110 §14): on a miss, on a stored response, every form.
  { id: 'range-on-miss', steps: (b) => [get(`${b}/cacheable`, 'Range: bytes=0-3'), get(`${b}/cacheable`)] },
  stored('range-first', 'cacheable', withFields('Range: bytes=0-3')),
  stored('range-suffix', 'cacheable', withFields('Range: bytes=-4')),
  stored('range-open', 'cacheable', withFields('Range: bytes=10-')),
  stored('range-beyond', 'cacheable', withFields('Range: bytes=5-999')),
  stored('range-unsatisfiable', 'cacheable', withFields('Range: bytes=999-')),
  stored('range-multi', 'cacheable', withFields('Range: bytes=0-1,4-5')),
  stored('range-invalid', 'cacheable', withFields('Range: bytes=5-2')),
  stored('range-other-unit', 'cacheable', withFields('Range: items=0-1')),
  stored('if-range-match', 'cacheable', withFields('Range: bytes=0-3', 'If-Range: "v1"')),
  stored('if-range-other', 'cacheable', withFields('Range: bytes=0-3', 'If-Range: "v2"')),
  stored('if-range-date', 'cacheable', withFields('Range: bytes=0-3', 'If-Range: Mon, 01 Jan 2024 00:00:00 GMT')),
  stored('range-head', 'cacheable', (t) => head(t, 'Range: bytes=0-3')),
  stored('range-chunked-origin', 'chunked', withFields('Range: bytes=0-3')),
  // Request directives (RFC 9111 §5.2.1) and authorisation (§3.5).
  stored('request-no-cache', 'cacheable', withFields('Cache-Control: no-cache')),
  stored('request-max-age-0', 'cacheable', withFields('Cache-Control: max-age=0')),
  stored('request-pragma', 'cacheable', withFields('Pragma: no-cache')),
  stored('request-no-store', 'cacheable', withFields('Cache-Control: no-store')),
  { id: 'only-if-cached-miss', steps: (b) => [get(`${b}/cacheable`, 'Cache-Control: only-if-cached')] },
  stored('only-if-cached-hit', 'cacheable', withFields('Cache-Control: only-if-cached')),
  {
    id: 'authorization-shared',
    steps: (b) => [get(`${b}/cacheable`, 'Authorization: Bearer s3cret'), get(`${b}/cacheable`)],
  },
  {
    id: 'authorization-s-maxage',
    steps: (b) => [get(`${b}/s-maxage`, 'Authorization: Bearer s3cret'), get(`${b}/s-maxage`)],
  },
  { id: 'cookie-heuristic', steps: (b) => [get(`${b}/heuristic`, 'Cookie: session=s3cret'), get(`${b}/heuristic`)] },
  // Stale responses while the origin fails (RFC 5861 §4), once the one-second lifetime ran out
  // (nginx counts whole seconds: two of them make sure).
  stored('stale-if-error', 'stale-if-error', (t) => ({ ...get(t), delayMs: 2_050 })),
  // Revalidation (RFC 9111 §4.3): one-second lifetimes, then one wait for all of them, then what
  // each stale response becomes: a 304 that extends it (its Cache-Control taken), a new
  // representation, each variant validated with its own ETag, a HEAD on a stale response, and a
  // client's own validator on a stale response.
  {
    id: 'revalidation',
    steps: (b) => [
      get(`${b}/revalidate/a`),
      get(`${b}/changing/a`),
      get(`${b}/revalidate-vary/a`, 'X-V: a'),
      get(`${b}/revalidate-vary/a`, 'X-V: b'),
      get(`${b}/revalidate/head`),
      get(`${b}/revalidate/inm`),
      { ...get(`${b}/revalidate/a`), delayMs: 2_050 },
      get(`${b}/revalidate/a`),
      get(`${b}/changing/a`),
      get(`${b}/changing/a`),
      get(`${b}/revalidate-vary/a`, 'X-V: a'),
      get(`${b}/revalidate-vary/a`, 'X-V: b'),
      get(`${b}/revalidate-vary/a`, 'X-V: a'),
      head(`${b}/revalidate/head`),
      get(`${b}/revalidate/head`),
      get(`${b}/revalidate/inm`, 'If-None-Match: "r1"'),
      get(`${b}/revalidate/inm`, 'If-None-Match: "r1"'),
    ],
  },
  // RFC 9111 §4.4: an unsafe request that succeeds invalidates the stored response for its URL.
  {
    id: 'unsafe-invalidates',
    steps: (b) =>
      ['POST', 'PUT', 'DELETE', 'PATCH'].flatMap((method) => [
        get(`${b}/cacheable/${method}`),
        { requests: [wireRequest(method, `${b}/cacheable/${method}`, ['Host: x', 'Content-Length: 5'], 'hello')] },
        get(`${b}/cacheable/${method}`),
      ]),
  },
];

describeDifferential('nginx as an oracle: caching decisions', CASES, { originTimeout: 5_000 });
