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

/**
 * Faults whose outcome does not depend on time: the origin answers at once (or fails at once), so
 * the origin timeout is one a loaded machine cannot reach (a short one turned a starved moment
 * into a 504 on either side).
 */
const PROMPT: Case[] = [
  ...['cl-long', 'cl-short', 'reset-head', 'reset-mid', 'bad-chunk'].map(twice),
  {
    id: 'fault-cl-long-then-other',
    steps: (b) => [get(`${b}/cl-long`), get(`${b}/cacheable`), get(`${b}/cacheable`)],
  },
  { id: 'fault-post-reset-head', steps: (b) => [post(`${b}/reset-head`)] },
  {
    id: 'stale-if-reset',
    steps: (b) => [get(`${b}/stale-if-reset`), { ...get(`${b}/stale-if-reset`), delayMs: 2_050 }],
  },
  { id: 'refused-get', origin: 'down', steps: (b) => [get(`${b}/cacheable`)] },
  { id: 'refused-post', origin: 'down', steps: (b) => [post(`${b}/echo`)] },
];

/**
 * nginx waits for its timeout here (it takes an interim response for the final one, or tunnels
 * after an unasked 101) while the cache answers at once: nginx's timeout is short, the cache's is
 * one a loaded machine cannot reach.
 */
const NGINX_WAITS: Case[] = ['interim-100', 'interim-103', 'switch-101'].map(twice);

/**
 * The origin never answers: both proxies wait out their timeout, whatever the machine's load, so
 * it is short (each step costs it twice, nginx then the cache).
 */
const NO_HEAD: Case[] = [twice('no-head'), { id: 'fault-post-no-head', steps: (b) => [post(`${b}/no-head`)] }];

describeDifferential('nginx as an oracle: origin faults', PROMPT, { originTimeout: 5_000 });
describeDifferential('nginx as an oracle: origin faults nginx waits out', NGINX_WAITS, {
  originTimeout: 5_000,
  nginxOriginTimeout: 700,
});
describeDifferential('nginx as an oracle: an origin that never answers', NO_HEAD, { originTimeout: 700 });
