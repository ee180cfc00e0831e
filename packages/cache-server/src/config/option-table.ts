import type { ActionSpec } from '@simple-cache/common';
import { SERVER_OPTIONS } from './options/server.js';
import { STORE_OPTIONS } from './options/store.js';
import { LIMITS_OPTIONS } from './options/limits.js';
import { LOGGING_ADMIN_OPTIONS } from './options/logging-admin.js';
import { CACHING_OPTIONS } from './options/caching.js';
import { LISTENER_OPTIONS } from './options/listeners.js';
import { ORIGIN_TLS_OPTIONS } from './options/origin-tls.js';
import { COMPRESSION_OPTIONS } from './options/compression.js';
import type { ConfigOption } from './values.js';

/**
 * The one table of options: parsing, defaults, `--help` and error messages all come from it. Its
 * rows live by concern in options/; this order is the order of --help and of --check-config.
 */
export const OPTIONS: readonly ConfigOption[] = [
  ...SERVER_OPTIONS,
  ...STORE_OPTIONS,
  ...LIMITS_OPTIONS,
  ...LOGGING_ADMIN_OPTIONS,
  ...CACHING_OPTIONS,
  ...LISTENER_OPTIONS,
  ...ORIGIN_TLS_OPTIONS,
  ...COMPRESSION_OPTIONS,
];

export const USAGE = 'pnpm --filter cache-server start [PORT] [options]';

/** Flags that ask for an action instead of setting an option. */
export const ACTIONS: readonly ActionSpec[] = [
  {
    flag: 'check-config',
    description: 'validate the options and the config file, print the resolved config and exit: 0 if valid, 2 if not',
  },
];

/** How the option layers rank, for --help. */
export const PRECEDENCE = 'flag > environment variable > config file (--config) > default';
