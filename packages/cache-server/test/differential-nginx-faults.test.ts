// @system-packages nginx-light
import { describeDifferential, type Case, type Step } from './helpers/nginx-differential.js';
import { wireRequest } from './helpers/wire-client.js';

/**
 * Origin faults through nginx's proxy_cache and through the cache: refused, reset before the head
 * or mid-body, bodies longer or shorter than announced, a broken chunk, interim responses, a head
 * that never comes. Each fault is followed by a request that shows what was stored. Differences
 * must be rows of the one table in docs/testing.md.
 */
const get = (target: string): Step => ({ requests: [wireRequest('GET', target, ['Host: x'])] });
const post = (target: string): Step => ({
  requests: [wireRequest('POST', target, ['Host: x', 'Content-Length: 5'], 'hello')],
});

/** The fault, then the same URL again (what did the first attempt leave in storage?). */
const twice = (route: string): Case => ({
  id: `fault-${route}`,
  steps: (b) => [get(`${b}/${route}`), get(`${b}/${route}`)],
});

const CASES: Case[] = [
  ...[
    'cl-long',
    'cl-short',
    'reset-head',
    'reset-mid',
    'bad-chunk',
    'interim-100',
    'interim-103',
    'switch-101',
    'no-head',
  ].map(twice),
  {
    id: 'fault-cl-long-then-other',
    steps: (b) => [get(`${b}/cl-long`), get(`${b}/cacheable`), get(`${b}/cacheable`)],
  },
  { id: 'fault-post-reset-head', steps: (b) => [post(`${b}/reset-head`)] },
  { id: 'fault-post-no-head', steps: (b) => [post(`${b}/no-head`)] },
  {
    id: 'stale-if-reset',
    steps: (b) => [get(`${b}/stale-if-reset`), { ...get(`${b}/stale-if-reset`), delayMs: 2_050 }],
  },
  { id: 'refused-get', origin: 'down', steps: (b) => [get(`${b}/cacheable`)] },
  { id: 'refused-post', origin: 'down', steps: (b) => [post(`${b}/echo`)] },
];

// Faults that wait for a timeout cost it twice per step (nginx, then the cache): keep it short.
describeDifferential('nginx as an oracle: origin faults', CASES, { originTimeout: 700 });
