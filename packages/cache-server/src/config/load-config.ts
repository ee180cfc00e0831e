import type { CacheServerConfig, OptionSource, RuleConfig } from '@simple-cache/common';
import { OptionError, parseOptions } from '@simple-cache/common';
import { DEFAULTS } from './defaults.js';
import { checkRules, loadConfigFile } from './file/index.js';
import { ACTIONS, OPTIONS } from './option-table.js';
import { SELF_SIGNED } from './values.js';

/** Options whose relative paths, written in the config file, are relative to that file. */
const FILE_RELATIVE = new Set([
  'cache-dir',
  'tls-cert',
  'tls-key',
  'origin-ca',
  'origin-cert',
  'origin-key',
  'redis-tls-ca',
  'redis-tls-cert',
  'redis-tls-key',
]);

/** A loaded config and where it came from. */
export interface LoadedConfig {
  config: Readonly<CacheServerConfig>;
  help: boolean;
  /** `--check-config` was given. */
  checkConfig: boolean;
  /** Which layer set each option (flag name → flag, env, file or default). */
  sources: Readonly<Record<string, OptionSource>>;
  /** The config file's sha256 (hex); undefined without a file. */
  fileHash: string | undefined;
}

/**
 * argv + env + the config file they name → a validated, frozen config. Throws OptionError
 * naming the bad option, or ConfigFileError naming file, line and path. Precedence: flag > env >
 * file > default. The same function serves start-up, --check-config and reload (cli.ts).
 */
export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): LoadedConfig {
  const first = parseOptions(OPTIONS, argv, env, 'port', { actions: ACTIONS });
  const configFile = first.values.config as string;
  const checkConfig = first.actions.has('check-config');
  if (first.help || configFile === '')
    return { ...resolved(first), help: first.help, checkConfig, fileHash: undefined };
  const file = loadConfigFile(configFile, OPTIONS, FILE_RELATIVE, new Set([SELF_SIGNED]));
  const parsed = parseOptions(OPTIONS, argv, env, 'port', { actions: ACTIONS, file: file.options });
  return { ...resolved(parsed, file.rules), help: false, checkConfig, fileHash: file.hash };
}

function resolved(
  parsed: ReturnType<typeof parseOptions>,
  rules: readonly RuleConfig[] = [],
): Pick<LoadedConfig, 'config' | 'sources'> {
  const fields = Object.fromEntries(OPTIONS.map((o) => [o.field, parsed.values[o.flag]]));
  return { config: resolveConfig({ ...fields, rules }), sources: parsed.sources };
}

/**
 * Fills defaults for a partial config (used by tests and embedders) and freezes it. Rules given
 * here are checked against the config file's schema (ConfigFileError when invalid).
 */
export function resolveConfig(partial: Partial<CacheServerConfig>): Readonly<CacheServerConfig> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  if (partial.rules !== undefined && partial.rules.length > 0) checkRules(OPTIONS, partial.rules);
  const config = Object.freeze({ ...DEFAULTS, ...defined });
  checkPairs(config);
  return config;
}

/** Options that mean nothing, or something unsafe, without another one. */
function checkPairs(config: Readonly<CacheServerConfig>): void {
  const tls = config.tlsCert !== '';
  if (config.tlsCert === SELF_SIGNED ? config.tlsKey !== '' : tls !== (config.tlsKey !== '')) {
    throw new OptionError(
      config.tlsCert === SELF_SIGNED
        ? '--tls-key: a self-signed certificate brings its own key; leave --tls-key out'
        : '--tls-cert and --tls-key go together: give both, or neither',
    );
  }
  if (config.redirectHttp && !tls) throw new OptionError('--redirect-http needs the TLS listener (--tls-cert)');
  if ((config.originCert === '') !== (config.originKey === '')) {
    throw new OptionError('--origin-cert and --origin-key go together: give both, or neither');
  }
}
