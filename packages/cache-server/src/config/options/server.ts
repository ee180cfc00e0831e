import { parseOriginUrl, parsePort } from '@simple-cache/common';
import { DEFAULTS } from '../defaults.js';
import { parseConfigPath, parseDir, parseHost, type ConfigOption } from '../values.js';

/** The config file, where the cache listens, the origin it caches for, where it keeps entries on disk. */
export const SERVER_OPTIONS: readonly ConfigOption[] = [
  {
    flag: 'config',
    field: 'configFile',
    env: 'CACHE_CONFIG',
    description:
      'YAML (.yaml, .yml) or JSON (.json) file: any option below under its flag name, and rules; re-read on SIGHUP',
    default: DEFAULTS.configFile,
    expected: 'a .yaml, .yml or .json file',
    placeholder: 'file',
    showDefault: (v) => ((v as string) === '' ? '(none)' : (v as string)),
    parse: parseConfigPath,
  },
  {
    flag: 'port',
    field: 'port',
    env: 'CACHE_PORT',
    description: 'port to listen on (0 = any free port)',
    default: DEFAULTS.port,
    expected: 'a port number 0-65535',
    placeholder: 'port',
    parse: parsePort,
  },
  {
    flag: 'host',
    field: 'host',
    env: 'CACHE_HOST',
    description: 'address to listen on',
    default: DEFAULTS.host,
    expected: 'a host name or IP address',
    placeholder: 'host',
    parse: parseHost,
  },
  {
    flag: 'origin',
    field: 'origin',
    env: 'CACHE_ORIGIN',
    description: 'base URL of the origin server',
    default: DEFAULTS.origin,
    expected: 'an http(s) URL with scheme, e.g. http://localhost:8000',
    placeholder: 'url',
    parse: parseOriginUrl,
  },
  {
    flag: 'cache-dir',
    field: 'cacheDir',
    env: 'CACHE_DIR',
    description: 'directory for stored responses',
    default: DEFAULTS.cacheDir,
    expected: 'a directory path',
    placeholder: 'dir',
    parse: parseDir,
  },
];
