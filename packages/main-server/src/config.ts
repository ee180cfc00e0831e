/**
 * The origin's options: one table of specs (flag, env var, default, parser) and one object of
 * defaults. The table drives parsing, `--help` and error messages; the result is frozen.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  OptionError,
  formatHelp,
  parseLogLevel,
  parseOptions,
  parsePort,
  type MainServerConfig,
  type OptionSpec,
} from '@simple-cache/common';

/** The demo site shipped with the package, found from this file so `start` works from any cwd. */
export const DEMO_ROOT = fileURLToPath(new URL('../public', import.meta.url));

export const DEFAULTS: Readonly<MainServerConfig> = Object.freeze({
  port: 8000,
  // The dual-stack wildcard accepts IPv4 and IPv6, so http://localhost:8000 works whether
  // localhost resolves to 127.0.0.1 or ::1. Where IPv6 is missing, listening falls back to 0.0.0.0.
  host: '::',
  root: DEMO_ROOT,
  // Fresh for a minute: long enough that reloading the demo shows the cache answering (HIT),
  // short enough that waiting a minute shows revalidation (ETag/Last-Modified → 304) too.
  cacheControl: 'public, max-age=60',
  logLevel: 'info',
});

export const USAGE = 'pnpm --filter main-server start [PORT] [options]';

type OptionSpecs = { readonly [K in keyof MainServerConfig]: OptionSpec<MainServerConfig[K]> };

/** The option table; a relative `--root` is resolved against `baseDir`. */
function describeOptions(baseDir: string): OptionSpecs {
  return {
    port: {
      flag: 'port',
      env: 'MAIN_PORT',
      description: 'TCP port to listen on (also the first positional argument)',
      default: DEFAULTS.port,
      expected: 'port number 0-65535 (0 picks a free port)',
      parse: parsePort,
    },
    host: {
      flag: 'host',
      env: 'MAIN_HOST',
      description: 'address to bind; :: means every IPv4 and IPv6 address',
      default: DEFAULTS.host,
      expected: 'hostname or IP address such as 127.0.0.1 or ::',
      parse: parseHost,
    },
    root: {
      flag: 'root',
      env: 'MAIN_ROOT',
      description: 'directory to serve (a relative path starts where you ran the command)',
      default: DEFAULTS.root,
      expected: 'directory that exists',
      parse: (text) => parseRoot(text, baseDir),
    },
    cacheControl: {
      flag: 'cache-control',
      env: 'MAIN_CACHE_CONTROL',
      description: 'Cache-Control header sent with every file',
      default: DEFAULTS.cacheControl,
      expected: 'Cache-Control value such as "public, max-age=60"',
      parse: parseCacheControl,
    },
    logLevel: {
      flag: 'log-level',
      env: 'MAIN_LOG_LEVEL',
      description: 'pino log level',
      default: DEFAULTS.logLevel,
      expected: 'level (fatal, error, warn, info, debug, trace or silent)',
      parse: parseLogLevel,
    },
  };
}

export interface ReadConfigResult {
  config: Readonly<MainServerConfig>;
  /** `--help` was given: print `formatMainServerHelp()` instead of starting. */
  help: boolean;
}

/**
 * argv (without node and script) + environment → validated, frozen config. Throws OptionError.
 * A relative root starts from `INIT_CWD` when set: pnpm runs the script in the package folder but
 * records there where the user typed the command.
 */
export function readConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ReadConfigResult {
  const specs = describeOptions(env.INIT_CWD || process.cwd());
  const { values, help } = parseOptions(Object.values(specs), argv, env, 'port');
  const config = Object.fromEntries(
    Object.entries(specs).map(([key, spec]) => [key, values[spec.flag]]),
  ) as unknown as MainServerConfig;
  return { config: Object.freeze(config), help };
}

/**
 * Defaults overlaid with `partial`, for code that builds an origin without a command line (tests,
 * the demo). Each given value is checked by the same parser its flag uses.
 */
export function createConfig(
  partial: Partial<MainServerConfig>,
  base: Readonly<MainServerConfig> = DEFAULTS,
): Readonly<MainServerConfig> {
  const specs = describeOptions(process.cwd());
  const config: MainServerConfig = { ...base };
  for (const key of Object.keys(partial) as (keyof MainServerConfig)[]) {
    const value = partial[key];
    if (value === undefined) continue;
    const spec = specs[key] as OptionSpec;
    try {
      (config as unknown as Record<string, unknown>)[key] = spec.parse(String(value));
    } catch {
      throw new OptionError(`invalid ${key} ${JSON.stringify(value)}: expected ${spec.expected}`);
    }
  }
  return Object.freeze(config);
}

export function formatMainServerHelp(): string {
  return formatHelp(USAGE, Object.values(describeOptions(process.cwd())));
}

function parseHost(text: string): string {
  // Brackets are URL syntax, not part of the address Node binds to.
  const host = text.replace(/^\[(.*)\]$/, '$1');
  if (!/^[\w.:%-]+$/.test(host)) throw new Error('not a host');
  return host;
}

function parseRoot(text: string, baseDir: string): string {
  const root = path.resolve(baseDir, text);
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error('not a directory');
  return root;
}

function parseCacheControl(text: string): string {
  const value = text.trim();
  // Visible ASCII and spaces only: a CR or LF would split the response header.
  if (!/^[\x20-\x7e]+$/.test(value)) throw new Error('not a header value');
  return value;
}
