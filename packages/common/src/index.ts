export * from './headers.js';
export * from './cache-status.js';
export * from './entry.js';
export * from './config.js';
export * from './cli-options.js';
