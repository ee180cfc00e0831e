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
  /** How `--help` shows the default (e.g. bytes as `1GiB`); also how --check-config shows any value. */
  showDefault?(value: T): string;
  /** For secrets: what is shown instead of the value (--check-config, the admin config endpoint). */
  redact?(value: T): string;
}

/** Thrown for any bad option: the message is one line naming the option and what was expected. */
export class OptionError extends Error {
  readonly code = 'CACHE_ERR_BAD_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** Where an option's value came from, in precedence order. */
export type OptionSource = 'flag' | 'env' | 'file' | 'default';

/**
 * Option values read from a config file, as text (the same `parse` reads them as a flag's), and
 * where each was written (`simple-cache.yaml:3`), for error messages.
 */
export interface FileOptions {
  values: Readonly<Record<string, string>>;
  where(flag: string): string;
}

/** A flag that asks for an action instead of setting an option (`--check-config`), like --help. */
export interface ActionSpec {
  flag: string;
  description: string;
}

export interface ParseExtras {
  /** The config file's values: below flags and environment, above defaults. */
  file?: FileOptions;
  actions?: readonly ActionSpec[];
}

export interface ParsedOptions {
  values: Record<string, unknown>;
  /** Which layer gave each option its value. */
  sources: Record<string, OptionSource>;
  help: boolean;
  /** The action flags given (`check-config`). */
  actions: ReadonlySet<string>;
}

/**
 * Reads `argv` (without node and script), `env` and a config file's values. The first positional
 * argument, when `positional` names a spec, sets that option (`start 8001`). Precedence:
 * flag > env > file > default.
 */
export function parseOptions(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  positional?: string,
  extras: ParseExtras = {},
): ParsedOptions {
  const byFlag = new Map(specs.map((s) => [s.flag, s]));
  const actionFlags = new Set((extras.actions ?? []).map((action) => `--${action.flag}`));
  const raw = new Map<string, string>();
  const actions = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (actionFlags.has(arg)) {
      actions.add(arg.slice(2));
      continue;
    }
    if (arg === '--') continue;
    if (arg.startsWith('-')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      const spec = arg.startsWith('--') ? byFlag.get(name) : undefined;
      // The name only: a mistyped `--admin-tokn=<secret>` must not print the secret.
      if (!spec) throw new OptionError(`unknown option ${arg.slice(0, eq === -1 ? undefined : eq)} (see --help)`);
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
    throw new OptionError(`unexpected argument "${withoutSecrets(arg)}" (see --help)`);
  }
  const values: Record<string, unknown> = {};
  const sources: Record<string, OptionSource> = {};
  for (const spec of specs) {
    const fromEnv = env[spec.env];
    const layers: [OptionSource, string | undefined][] = [
      ['flag', raw.get(spec.flag)],
      ['env', fromEnv === '' ? undefined : fromEnv],
      ['file', extras.file?.values[spec.flag]],
    ];
    const [source, text] = layers.find(([, value]) => value !== undefined) ?? ['default', undefined];
    sources[spec.flag] = source;
    if (text === undefined) {
      values[spec.flag] = spec.default;
      continue;
    }
    try {
      values[spec.flag] = spec.parse(text);
    } catch (error) {
      const where = { flag: `--${spec.flag}`, env: spec.env, file: extras.file?.where(spec.flag), default: '' }[source];
      // A parser says why with an OptionError (`its port is empty`); any other error is its own business.
      const why = error instanceof OptionError ? ` (${error.message})` : '';
      throw new OptionError(`invalid ${where} "${shownValue(spec, text)}": expected ${spec.expected}${why}`);
    }
  }
  return { values, sources, help, actions };
}

/**
 * The value as an error message may show it: a secret option's through its `redact`, any other
 * with the password of every `scheme://user:password@` in it replaced (a Redis or origin URL).
 * One line, at most 200 characters: an error names the value, it does not reproduce a file.
 */
function shownValue(spec: OptionSpec, text: string): string {
  let shown: string;
  try {
    shown = spec.redact ? spec.redact(text as never) : withoutSecrets(text);
  } catch {
    shown = '(redacted)';
  }
  const line = JSON.stringify(shown).slice(1, -1);
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** `scheme://user:password@host` → `scheme://user:(redacted)@host`, wherever it occurs. */
export function withoutSecrets(text: string): string {
  return text.replace(/(\/\/[^:/@\s]*:)[^@/\s]*@/g, '$1(redacted)@');
}

export interface HelpExtras {
  actions?: readonly ActionSpec[];
  /** Says where else options come from (a config file) and how the layers rank. */
  precedence?: string;
  describeDefault?: (value: unknown) => string;
}

/** `--help` text: usage line, then one row per option with its default and environment variable. */
export function formatHelp(usage: string, specs: readonly OptionSpec[], extras: HelpExtras = {}): string {
  const describeDefault = extras.describeDefault ?? defaultText;
  const rows = specs.map((s) => [
    `--${s.flag}${s.boolean ? '' : ` <${s.placeholder ?? s.expected.split(' ')[0] ?? 'value'}>`}`,
    s,
  ]);
  const actions = extras.actions ?? [];
  const width = Math.max(...rows.map(([left]) => (left as string).length), ...actions.map((a) => a.flag.length + 2));
  const lines = [`Usage: ${usage}`, ''];
  lines.push(`Options (${extras.precedence ?? 'flag > environment variable > default'}):`);
  for (const [left, spec] of rows as [string, OptionSpec][]) {
    lines.push(`  ${left.padEnd(width)}  ${spec.description}`);
    const shown = spec.showDefault ? spec.showDefault(spec.default) : describeDefault(spec.default);
    lines.push(`  ${''.padEnd(width)}  default: ${shown}; env: ${spec.env}`);
  }
  for (const action of actions) lines.push(`  ${`--${action.flag}`.padEnd(width)}  ${action.description}`);
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

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * `500ms`, `2s`, `1m`, `1h`, `1d`, `1w`, `1y` (365 days, as nginx's `y`); a bare number is
 * seconds (as in nginx). Returns milliseconds.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)?\s*$/i.exec(text);
  if (!match) throw new Error('not a duration');
  return Math.round(Number(match[1]) * (DURATION_UNITS[(match[2] ?? 's').toLowerCase()] as number));
}

/** `http(s)://` authority (host, optional `:port`) and path, as RFC 3986 §3 splits them. */
const ORIGIN_URL = /^https?:\/\/([^/?#]*)([^?#]*)$/i;
/** `host[:port]`: a bracketed IPv6 literal or a name/IPv4 without `:`, `@`, brackets. */
const AUTHORITY = /^(\[[^\]]*\]|[^:@[\]]+)(?::(.*))?$/;

/**
 * An http(s) URL with a scheme and host, and optionally a port and a base path; returned without
 * a trailing slash. Stricter than the WHATWG parser, which silently repairs what was most likely
 * mistyped: an empty port (`http://h:` would be port 80), tabs and newlines inside (removed), a
 * backslash (read as `/`), an empty query or fragment. User information (`user:pass@`) is refused:
 * RFC 9110 §4.2.4 deprecates it, and the origin URL is shown in /stats and logs. Throws an
 * OptionError saying what is wrong.
 */
export function parseOriginUrl(text: string): string {
  // Control characters are exactly what this refuses (the WHATWG parser drops tabs and newlines).
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(text)) {
    throw new OptionError('it has a space, a control character or a backslash');
  }
  const parts = ORIGIN_URL.exec(text);
  if (!parts) {
    throw new OptionError(/^https?:\/\//i.test(text) ? 'it has a query or a fragment' : 'it needs http:// or https://');
  }
  if ((parts[1] as string).includes('@')) throw new OptionError('user:password@ is not allowed in it');
  const authority = AUTHORITY.exec(parts[1] as string);
  if (!authority) throw new OptionError('its host is missing or invalid');
  const port = authority[2];
  if (port !== undefined && !/^\d{1,5}$/.test(port)) {
    throw new OptionError(port === '' ? 'its port is empty' : 'its port is not a number');
  }
  if (port !== undefined && (Number(port) === 0 || Number(port) > 65535)) {
    throw new OptionError('its port is not between 1 and 65535');
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OptionError('its host is missing or invalid');
  }
  if (!url.hostname) throw new OptionError('its host is missing or invalid');
  return url.href.replace(/\/+$/, '');
}

export function parseLogLevel(text: string): string {
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(text)) throw new Error('bad level');
  return text;
}
