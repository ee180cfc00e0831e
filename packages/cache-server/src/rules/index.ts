/**
 * The operator's per-path rules (config file `rules:`, issue 14): validated by the config file's
 * schema (rule-schema.ts), compiled once per load (compile.ts) into a matcher the proxy asks per
 * request. Pure: no I/O, no clock; what the rules decide reaches policy/ as PolicyOptions.
 */
export * from './compile.js';
export * from './glob.js';
export * from './query.js';
export * from './rule-schema.js';
