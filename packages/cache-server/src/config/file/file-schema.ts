import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { OptionSpec, RuleConfig } from '@simple-cache/common';
import {
  duplicateNames,
  EXPECTATIONS,
  REQUEST_SETTINGS,
  RESPONSE_SETTINGS,
  RULE_SCHEMA,
  ruleProblems,
} from '../../rules/index.js';

/**
 * The config file's one schema: every option under its flag name (checked by the option's own
 * parser, so the file accepts exactly what the flag does) and `rules:` (rules/rule-schema.ts).
 * Compiled once per option table with ajv; its errors become one line each, naming the path.
 */

/** Options that only make sense on the command line. */
const COMMAND_LINE_ONLY = new Set(['config']);

/** One problem, at a path in the file's data. */
export interface SchemaProblem {
  at: (string | number)[];
  message: string;
}

/** A value of the file as the flag's text: lists joined with commas, numbers and booleans as written. */
export function optionText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')) {
    return value.join(',');
  }
  return undefined;
}

const validators = new WeakMap<readonly OptionSpec[], ValidateFunction>();

function validatorFor(specs: readonly OptionSpec[]): ValidateFunction {
  let validate = validators.get(specs);
  if (validate) return validate;
  const byFlag = new Map(specs.map((spec) => [spec.flag, spec]));
  const ajv = new Ajv({ allErrors: true, strict: true });
  addCheck(ajv, 'option', 'string', (flag: string, value) => {
    const spec = byFlag.get(flag) as OptionSpec;
    const text = optionText(value);
    if (text !== undefined) {
      try {
        spec.parse(text);
        return [];
      } catch {
        // the option's parser refused it: the message says what it takes
      }
    }
    return [{ message: `expected ${spec.expected}` }];
  });
  addCheck(ajv, 'expect', 'string', (kind: string, value) => {
    const expectation = EXPECTATIONS[kind];
    if (!expectation) throw new Error(`no expectation named ${kind}`);
    return expectation.check(value) ? [] : [{ message: `expected ${expectation.expected}` }];
  });
  addCheck(ajv, 'ruleShape', 'boolean', (_on: boolean, rule, at) => {
    if (typeof rule !== 'object' || rule === null) return [];
    return ruleProblems(rule as RuleConfig).map((problem) => ({
      instancePath: [at, ...problem.at].join('/'),
      message: problem.message,
    }));
  });
  addCheck(ajv, 'uniqueRuleNames', 'boolean', (_on: boolean, rules, at) => {
    if (!Array.isArray(rules)) return [];
    return duplicateNames(rules.filter((rule) => typeof rule === 'object' && rule !== null)).map(({ index, name }) => ({
      instancePath: `${at}/${index}/name`,
      message: `another rule is already named "${name}"`,
    }));
  });
  const optionProperties = specs
    .filter((spec) => !COMMAND_LINE_ONLY.has(spec.flag) && !spec.boolean)
    .map((spec) => [spec.flag, { option: spec.flag }]);
  validate = ajv.compile({
    type: 'object',
    additionalProperties: false,
    properties: {
      ...Object.fromEntries(optionProperties),
      rules: { type: 'array', uniqueRuleNames: true, items: RULE_SCHEMA },
    },
  });
  validators.set(specs, validate);
  return validate;
}

type Check<S> = (schema: S, data: unknown, instancePath: string) => { instancePath?: string; message: string }[];

/** A keyword whose check returns its problems (none: valid), each with its message and, optionally, a deeper path. */
function addCheck<S>(ajv: Ajv, keyword: string, schemaType: 'string' | 'boolean', check: Check<S>): void {
  type Validate = ((schema: S, data: unknown, parent: unknown, context?: { instancePath: string }) => boolean) & {
    errors?: Partial<ErrorObject>[];
  };
  const validate: Validate = (schema, data, _parent, context) => {
    const problems = check(schema, data, context?.instancePath ?? '');
    validate.errors = problems.map((problem) => ({ keyword, params: {}, ...problem }));
    return problems.length === 0;
  };
  ajv.addKeyword({ keyword, schemaType, errors: true, validate });
}

/** Checks a file's data (or programmatic rules) against the one schema; [] when valid. */
export function checkFileData(specs: readonly OptionSpec[], data: unknown): SchemaProblem[] {
  const validate = validatorFor(specs);
  if (validate(data)) return [];
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const error of validate.errors ?? []) {
    // allErrors also reports the custom keyword's failure as a whole; one line per path and message.
    const problem = describe(error);
    const id = `${problem.at.join('/')} ${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(problem);
  }
  return problems;
}

function describe(error: ErrorObject): SchemaProblem {
  const at = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
  switch (error.keyword) {
    case 'additionalProperties': {
      const name = String(error.params.additionalProperty);
      return { at: [...at, name], message: unknownField(at) };
    }
    case 'required':
      return { at, message: `missing ${String(error.params.missingProperty)}` };
    case 'type':
      return { at, message: `expected ${TYPE_NAMES[String(error.params.type)] ?? String(error.params.type)}` };
    case 'minItems':
      return { at, message: 'expected at least one item' };
    default:
      return { at, message: error.message ?? 'invalid' };
  }
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: 'a mapping (name: value)',
  array: 'a list',
  boolean: 'true or false',
  string: 'text',
};

function unknownField(parent: readonly (string | number)[]): string {
  if (parent.length === 0)
    return 'unknown option (the file takes the flag names without dashes, and rules; see --help)';
  const last = parent[parent.length - 1];
  if (last === 'match') return 'unknown match field (path, methods, status)';
  if (last === 'key') return 'unknown key field (ignore-query, sort-query, headers)';
  return `unknown rule setting (name, match, ${[...REQUEST_SETTINGS, ...RESPONSE_SETTINGS].join(', ')})`;
}

/** `rules[2].match.path`, the way the messages name a place in the file. */
export function formatPath(at: readonly (string | number)[]): string {
  let text = '';
  for (const segment of at)
    text += typeof segment === 'number' ? `[${segment}]` : text === '' ? segment : `.${segment}`;
  return text;
}
