/**
 * Command-line and environment options, shared by both servers so that they read, validate and
 * document their options the same way. One table of option specs per server is the single source
 * for parsing, defaults, `--help` and error messages.
 */

export interface OptionSpec<T = unknown> {
  /** Flag name without dashes, e.g. `cache-dir`. */
  flag: string;
  /** Environment variable read when the flag is absent. */
  env: string;
  description: string;
  default: T;
  /** What a valid value looks like, for help and errors, e.g. `a size such as 500MB`. */
  expected: string;
  /** Throws (any error) when the text is not a valid value. */
  parse: (text: string) => T;
  /** Flags without value (`--help`-like switches) take no argument. */
  boolean?: boolean;
  /** Name of the value in `--help` (`--max-size <size>`); defaults to the first word of `expected`. */
  placeholder?: string;
  /** How `--help` shows the default (e.g. bytes as `1GiB`). */
  showDefault?(value: T): string;
}

/** Thrown for any bad option: the message is one line naming the option and what was expected. */
export class OptionError extends Error {
  readonly code = 'CACHE_ERR_BAD_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

export interface ParsedOptions {
  values: Record<string, unknown>;
  help: boolean;
}

/**
 * Reads `argv` (without node and script) and `env`. The first positional argument, when
 * `positional` names a spec, sets that option (`start 8001`). Precedence: flag > env > default.
 */
export function parseOptions(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  positional?: string,
): ParsedOptions {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const raw = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') continue;
    if (arg.startsWith('-')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = arg.startsWith('--') ? byFlag.get(name) : undefined;
      if (!spec) throw new OptionError(`unknown option ${arg} (see --help)`);
      if (spec.boolean) {
        raw.set(spec.flag, eq === -1 ? 'true' : arg.slice(eq + 1));
        continue;
      }
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new OptionError(`--${name} needs a value: expected ${spec.expected}`);
      raw.set(spec.flag, value);
      continue;
    }
    if (positional && !raw.has(positional)) {
      raw.set(positional, arg);
      continue;
    }
    throw new OptionError(`unexpected argument "${arg}" (see --help)`);
  }
  const values: Record<string, unknown> = {};
  for (const spec of specs) {
    const fromFlag = raw.get(spec.flag);
    const fromEnv = env[spec.env];
    const text = fromFlag ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
    if (text === undefined) {
      values[spec.flag] = spec.default;
      continue;
    }
    try {
      values[spec.flag] = spec.parse(text);
    } catch {
      const where = fromFlag !== undefined ? `--${spec.flag}` : `${spec.env}`;
      throw new OptionError(`invalid ${where} "${text}": expected ${spec.expected}`);
    }
  }
  return { values, help };
}

/** `--help` text: usage line, then one row per option with its default and environment variable. */
export function formatHelp(usage: string, specs: readonly OptionSpec[], describeDefault = defaultText): string {
  const rows = specs.map((s) => [
    `--${s.flag}${s.boolean ? '' : ` <${s.placeholder ?? s.expected.split(' ')[0] ?? 'value'}>`}`,
    s,
  ]);
  const width = Math.max(...rows.map(([left]) => (left as string).length));
  const lines = [`Usage: ${usage}`, '', 'Options (flag > environment variable > default):'];
  for (const [left, spec] of rows as [string, OptionSpec][]) {
    lines.push(`  ${left.padEnd(width)}  ${spec.description}`);
    const shown = spec.showDefault ? spec.showDefault(spec.default) : describeDefault(spec.default);
    lines.push(`  ${''.padEnd(width)}  default: ${shown}; env: ${spec.env}`);
  }
  lines.push(`  ${'--help'.padEnd(width)}  show this help`);
  return lines.join('\n');
}

function defaultText(value: unknown): string {
  return value === '' || value === undefined ? '(none)' : String(value);
}

export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new Error('not a port');
  const port = Number(text);
  if (port > 65535) throw new Error('not a port');
  return port;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `500MB` (decimal), `2GiB` (binary), `64k` (binary, nginx style), or plain bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = SIZE_UNITS[(match?.[2] ?? '').toLowerCase()];
  if (!match || unit === undefined) throw new Error('not a size');
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error('not a size');
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `1m`, `1h`, `1d`; a bare number is seconds (as in nginx). Returns milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match) throw new Error('not a duration');
  return Math.round(Number(match[1]) * (DURATION_UNITS[(match[2] ?? 's').toLowerCase()] as number));
}

/** An http(s) URL with a scheme and host; returned without a trailing slash. */
export function parseOriginUrl(text: string): string {
  const url = new URL(text);
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname || !/^https?:\/\//i.test(text)) {
    throw new Error('not an origin URL');
  }
  if (url.search || url.hash) throw new Error('origin URL has a query or fragment');
  return url.href.replace(/\/+$/, '');
}

export function parseLogLevel(text: string): string {
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(text)) throw new Error('bad level');
  return text;
}
