import { stringify } from 'yaml';
import type { CacheServerConfig, OptionSource, OptionSpec } from '@simple-cache/common';

type Spec = OptionSpec & { field: keyof CacheServerConfig };

/**
 * An option's value as its flag would take it (`1GiB`, `5s`, `off`), secrets redacted: what
 * --check-config prints and `GET <admin>/config` answers.
 */
export function showOption(spec: Spec, config: Readonly<CacheServerConfig>): string | number | boolean | null {
  const value = config[spec.field] as unknown;
  if (spec.redact) return spec.redact(value);
  if (spec.showDefault) return spec.showDefault(value);
  if (Array.isArray(value)) return value.join(',');
  return value as string | number | boolean | null;
}

/** Every option (flag name → shown value) and the rules, as the admin config endpoint answers them. */
export function configView(specs: readonly Spec[], config: Readonly<CacheServerConfig>): Record<string, unknown> {
  return {
    ...Object.fromEntries(specs.map((spec) => [spec.flag, showOption(spec, config)])),
    rules: config.rules,
  };
}

/**
 * The resolved config as a YAML file (--check-config): each option with the layer that set it,
 * then the rules as they will be compiled. It can be used as a config file as it is: a value the
 * flag could not take back (a redacted secret, an unset `admin-port`, no `--config`) is printed
 * as a comment.
 */
export function formatResolvedConfig(
  specs: readonly Spec[],
  config: Readonly<CacheServerConfig>,
  sources: Readonly<Record<string, OptionSource>>,
): string {
  const lines = ['# resolved config: flag > environment variable > config file > default'];
  for (const spec of specs) {
    const source = sources[spec.flag] ?? 'default';
    const where = source === 'env' ? `env ${spec.env}` : source;
    const shown = showOption(spec, config);
    const line = `${stringify({ [spec.flag]: shown }).trimEnd()}  # ${where}`;
    lines.push(spec.flag !== 'config' && takesBack(spec, shown) ? line : `# ${line}`);
  }
  lines.push(config.rules.length === 0 ? 'rules: []' : stringify({ rules: config.rules }).trimEnd());
  return lines.join('\n');
}

/** Would the flag take this shown value back (so a file may carry it)? */
function takesBack(spec: Spec, shown: unknown): boolean {
  if (typeof shown === 'string' && shown.includes('(redacted)')) return false;
  try {
    spec.parse(String(shown));
    return true;
  } catch {
    return false;
  }
}
