import { describeFuzz } from './helpers/fuzz-runner.js';

/**
 * Property-based HTTP fuzzing over real sockets: fast-check generates request sequences (methods,
 * request directives, validators, ranges, cookies, credentials, Vary-relevant fields, bodies in
 * every framing, Expect, pipelining, parallel clients, purges) and origin behaviours (statuses,
 * Cache-Control, Vary, validators, Set-Cookie, bodies in every framing, interim responses,
 * resets, short bodies, bad chunks, slow heads), played against the cache's command line with
 * its disk store. The invariants are in helpers/fuzz-invariants.ts; `pnpm fuzz` is the long run.
 */
describeFuzz('HTTP fuzzing, disk store', { runs: 60, seconds: 20 });
