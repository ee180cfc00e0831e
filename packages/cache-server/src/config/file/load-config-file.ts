import path from 'node:path';
import type { FileOptions, OptionSpec, RuleConfig } from '@simple-cache/common';
import { ConfigFileError } from './config-file-error.js';
import { checkFileData, formatPath, optionText } from './file-schema.js';
import { readConfigFile } from './read-config-file.js';

/** A config file that passed the schema: its options as flag text, its rules, and what identifies it. */
export interface ConfigFile {
  file: string;
  /** sha256 of its bytes, hex. */
  hash: string;
  options: FileOptions;
  rules: RuleConfig[];
}

/**
 * Reads and validates a config file against the one schema; every problem is reported at once,
 * each as `file:line path: message`. Paths of `relativePaths` options (cache-dir) written in
 * the file are relative to the file's directory, as a reader of the file expects; values in
 * `keywords` (`self-signed`) are words, not paths, and stay as written.
 */
export function loadConfigFile(
  file: string,
  specs: readonly OptionSpec[],
  relativePaths: ReadonlySet<string> = new Set(),
  keywords: ReadonlySet<string> = new Set(),
): ConfigFile {
  const parsed = readConfigFile(file);
  const problems = checkFileData(specs, parsed.data);
  if (problems.length > 0) {
    const located = problems.map(({ at, message }) => ({ line: parsed.lineOf(at), at, message }));
    // In the order a reader meets them in the file.
    located.sort((a, b) => a.line - b.line);
    throw new ConfigFileError(
      located.map(
        ({ line, at, message }) => `${file}:${line}${at.length === 0 ? '' : ` ${formatPath(at)}:`} ${message}`,
      ),
    );
  }
  const data = parsed.data as Record<string, unknown>;
  const values: Record<string, string> = {};
  for (const spec of specs) {
    const text = optionText(data[spec.flag]);
    if (text === undefined) continue;
    const relative = relativePaths.has(spec.flag) && !keywords.has(text.trim());
    values[spec.flag] = relative ? path.resolve(path.dirname(file), text) : text;
  }
  return {
    file,
    hash: parsed.hash,
    options: { values, where: (flag) => `${file}:${parsed.lineOf([flag])} ${flag}` },
    rules: (data.rules as RuleConfig[] | undefined) ?? [],
  };
}

/** Rules given in code (tests, embedders) checked against the same schema. */
export function checkRules(specs: readonly OptionSpec[], rules: readonly RuleConfig[]): void {
  const problems = checkFileData(specs, { rules });
  if (problems.length > 0)
    throw new ConfigFileError(problems.map(({ at, message }) => `${formatPath(at)}: ${message}`));
}
