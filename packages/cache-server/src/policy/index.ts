/**
 * The cache's rulebook: every decision about storing, reusing, validating and invalidating
 * responses, as pure functions (no I/O, no clocks: `now` is always passed in). The proxy asks,
 * the store and the origin client do.
 */
export * from './types.js';
export * from './cache-control.js';
export * from './response-control.js';
export * from './response-demands.js';
export * from './surrogate-control.js';
export * from './storable.js';
export * from './freshness.js';
export * from './use.js';
export * from './keys.js';
export * from './accept-language.js';
export * from './content-coding.js';
export * from './validation.js';
export * from './invalidation.js';
export * from './soft-purge.js';
export * from './headers.js';
export * from './cache-status.js';
export * from './range.js';
export * from './partial.js';
