import path from 'node:path';
import type { CacheServerConfig } from '@simple-cache/common';
import {
  parseDuration,
  parseLogLevel,
  parseOptions,
  parseOriginUrl,
  parsePort,
  parseSize,
  type OptionSpec,
} from '@simple-cache/common';

export const DEFAULTS: Readonly<CacheServerConfig> = Object.freeze({
  port: 8001,
  host: '0.0.0.0',
  origin: 'http://localhost:8000',
  cacheDir: path.resolve(import.meta.dirname, '..', '.cache'),
  maxSize: 1024 ** 3,
  originTimeout: 10_000,
  name: 'simple-cache',
  logLevel: 'info',
});

const NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;

/** The one table of options: parsing, defaults, `--help` and error messages all come from it. */
export const OPTIONS: readonly (OptionSpec & { field: keyof CacheServerConfig })[] = [
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
  {
    flag: 'max-size',
    field: 'maxSize',
    env: 'CACHE_MAX_SIZE',
    description: 'most body bytes kept on disk (LRU eviction beyond)',
    default: DEFAULTS.maxSize,
    expected: 'a size such as 500MB, 2GiB or plain bytes',
    placeholder: 'size',
    showDefault: (v) => showSize(v as number),
    parse: parsePositiveSize,
  },
  {
    flag: 'origin-timeout',
    field: 'originTimeout',
    env: 'CACHE_ORIGIN_TIMEOUT',
    description: 'how long to wait for the origin (headers, and between body bytes) before 504',
    default: DEFAULTS.originTimeout,
    expected: 'a duration such as 2s, 500ms or 1m',
    placeholder: 'duration',
    showDefault: (v) => showDuration(v as number),
    parse: parsePositiveDuration,
  },
  {
    flag: 'name',
    field: 'name',
    env: 'CACHE_NAME',
    description: 'this cache’s name in Cache-Status and Via',
    default: DEFAULTS.name,
    expected: 'a token such as simple-cache',
    placeholder: 'name',
    parse: parseName,
  },
  {
    flag: 'log-level',
    field: 'logLevel',
    env: 'CACHE_LOG_LEVEL',
    description: 'pino log level',
    default: DEFAULTS.logLevel,
    expected: 'one of fatal, error, warn, info, debug, trace, silent',
    placeholder: 'level',
    parse: parseLogLevel,
  },
];

export const USAGE = 'pnpm --filter cache-server start [PORT] [options]';

/** argv + env → a validated, frozen config; throws OptionError naming the bad option. */
export function loadConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { config: Readonly<CacheServerConfig>; help: boolean } {
  const { values, help } = parseOptions(OPTIONS, argv, env, 'port');
  return { config: resolveConfig(Object.fromEntries(OPTIONS.map((o) => [o.field, values[o.flag]]))), help };
}

/** Fills defaults for a partial config (used by tests and embedders) and freezes it. */
export function resolveConfig(partial: Partial<CacheServerConfig>): Readonly<CacheServerConfig> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  return Object.freeze({ ...DEFAULTS, ...defined });
}

function parseHost(text: string): string {
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(text)) throw new Error('bad host');
  return text;
}

function parseDir(text: string): string {
  if (text.trim() === '' || text.includes('\0')) throw new Error('bad dir');
  return path.resolve(text);
}

function parsePositiveSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes <= 0) throw new Error('must be positive');
  return bytes;
}

function parsePositiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error('must be positive');
  return ms;
}

function parseName(text: string): string {
  if (!NAME.test(text)) throw new Error('bad name');
  return text;
}

function showSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

function showDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
