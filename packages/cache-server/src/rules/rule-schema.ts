import { parseDuration, type RuleConfig } from '@simple-cache/common';
import { isPathGlob } from './glob.js';

/**
 * The JSON Schema of one rule (`rules:` items), part of the config file's one schema
 * (config/file/file-schema.ts). Values a schema type cannot express (durations, globs, statuses)
 * use the `expect` keyword, whose checks and messages are in EXPECTATIONS; rule-level
 * constraints (what may go with match.status, force without ttl) use `ruleShape`.
 */

interface Expectation {
  /** Completes "expected …" in the error. */
  expected: string;
  check(value: unknown): boolean;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Rule names appear in Cache-Status `detail` and logs: short, printable, no quotes. */
export const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

export const EXPECTATIONS: Readonly<Record<string, Expectation>> = {
  duration: {
    expected: 'a duration such as 5m, 30s, 1d or a number of seconds',
    check: (value) =>
      typeof value === 'number' ? Number.isFinite(value) && value >= 0 : typeof value === 'string' && isDuration(value),
  },
  paths: {
    expected: 'a path glob such as /static/** (starting with / or *, no query), or a list of them',
    check: (value) => listOf(value, (item) => typeof item === 'string' && isPathGlob(item)),
  },
  statuses: {
    expected: 'a status such as 404, a class such as 5xx, or a list of them',
    check: (value) => listOf(value, isStatus),
  },
  method: {
    expected: 'a method name such as GET',
    check: (value) => typeof value === 'string' && TOKEN.test(value),
  },
  'field-name': {
    expected: 'a header name such as Accept-Language',
    check: (value) => typeof value === 'string' && TOKEN.test(value),
  },
  'name-glob': {
    expected: 'a query parameter name or glob such as utm_*',
    check: (value) => typeof value === 'string' && value !== '',
  },
  'rule-name': {
    expected: 'a name of letters, digits and . _ : / - (at most 64, starting with a letter or digit)',
    check: (value) => typeof value === 'string' && RULE_NAME.test(value),
  },
};

function isDuration(text: string): boolean {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}

function listOf(value: unknown, check: (item: unknown) => boolean): boolean {
  const items = Array.isArray(value) ? value : [value];
  return items.length > 0 && items.every(check);
}

function isStatus(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 100 && value <= 599;
  return typeof value === 'string' && /^([1-5]xx|[1-5]\d\d)$/i.test(value.trim());
}

const duration = { expect: 'duration' } as const;
const flag = { type: 'boolean' } as const;

/** Settings that act before the response exists: they cannot depend on its status. */
export const REQUEST_SETTINGS = ['bypass', 'key', 'strip-cookies'] as const;
/** Settings that act on the response (or the stored entry). */
export const RESPONSE_SETTINGS = [
  'ttl',
  'force',
  'default-ttl',
  'grace',
  'stale-if-error',
  'stale-while-revalidate',
] as const;

export const RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['match'],
  ruleShape: true,
  properties: {
    name: { expect: 'rule-name' },
    match: {
      type: 'object',
      additionalProperties: false,
      properties: {
        path: { expect: 'paths' },
        methods: { type: 'array', minItems: 1, items: { expect: 'method' } },
        status: { expect: 'statuses' },
      },
    },
    bypass: flag,
    ttl: duration,
    force: flag,
    'default-ttl': duration,
    key: {
      type: 'object',
      additionalProperties: false,
      properties: {
        'ignore-query': { type: 'array', items: { expect: 'name-glob' } },
        'sort-query': flag,
        headers: { type: 'array', items: { expect: 'field-name' } },
      },
    },
    'strip-cookies': flag,
    grace: duration,
    'stale-if-error': duration,
    'stale-while-revalidate': duration,
  },
} as const;

/** A constraint between a rule's fields: the path below the rule it concerns, and why. */
export interface RuleProblem {
  at: string[];
  message: string;
}

/** What the schema's types cannot say about one rule (already of the right shape field by field). */
export function ruleProblems(rule: RuleConfig): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (rule.match?.status !== undefined) {
    for (const setting of REQUEST_SETTINGS) {
      if (rule[setting] !== undefined) {
        problems.push({
          at: [setting],
          message: `${setting} acts on the request, before any status is known: it cannot go with match.status`,
        });
      }
    }
  }
  if (rule.force !== undefined && rule.ttl === undefined) {
    problems.push({ at: ['force'], message: 'force overrides the origin with a ttl: give ttl in the same rule' });
  }
  const settings = [...REQUEST_SETTINGS, ...RESPONSE_SETTINGS].filter((name) => rule[name] !== undefined);
  if (settings.length === 0) {
    problems.push({
      at: [],
      message: `a rule needs a setting: ${[...REQUEST_SETTINGS, ...RESPONSE_SETTINGS].join(', ')}`,
    });
  }
  return problems;
}

/** Rule names must tell rules apart (Cache-Status and explain show them). */
export function duplicateNames(rules: readonly RuleConfig[]): { index: number; name: string }[] {
  const seen = new Set<string>();
  const duplicates: { index: number; name: string }[] = [];
  rules.forEach((rule, index) => {
    if (rule.name === undefined) return;
    if (seen.has(rule.name)) duplicates.push({ index, name: rule.name });
    seen.add(rule.name);
  });
  return duplicates;
}
