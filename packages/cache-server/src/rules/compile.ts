import { parseDuration, type RuleConfig } from '@simple-cache/common';
import type { PolicyOptions } from '../policy/index.js';
import { compileGlobs, compileNameGlobs } from './glob.js';
import { keyWithQuery, type QueryKeyRule } from './query.js';

/**
 * The operator's rules, compiled once per config load (start-up, reload) into plain data and
 * regular expressions; the proxy asks `forRequest()` per request and gets a memoised answer, so
 * no rule is interpreted on the hot path.
 *
 * Every rule whose match fits applies, in file order; a later rule's setting replaces an earlier
 * rule's same setting (Cloudflare's model). Each `key:` field is a setting of its own.
 */
export interface CompiledRules {
  /** How many rules (0: every answer is the constant NO_RULES). */
  readonly size: number;
  /** The rules for a request, from its method and its key (the normalised absolute URL). */
  forRequest(method: string, key: string): RequestRules;
}

/** What the rules say about one request (method and path). */
export interface RequestRules {
  /** Names of the rules whose match fits method and path, in file order. */
  readonly matched: readonly string[];
  /** The rule that made the request bypass the cache (neither served from nor stored in it). */
  readonly bypass: string | undefined;
  /** The rule that strips Cookie from the request and Set-Cookie from the response. */
  readonly stripCookies: string | undefined;
  /** Request header names whose values also select the stored response (as if the response had Vary on them). */
  readonly keyHeaders: readonly string[];
  /** The cache key after the query rules (`key: ignore-query / sort-query`); the origin still gets the original URL. */
  key(key: string): string;
  /** Policy options for a response (or stored entry) with this status: the base ones plus the rules' settings. */
  policyFor(status: number): Readonly<PolicyOptions>;
  /** Which rule gave each response setting its value for this status (explain, Cache-Status detail). */
  decidedBy(status: number): Readonly<Partial<Record<ResponseSetting, string>>>;
}

export type ResponseSetting = 'ttl' | 'force' | 'defaultTtl' | 'grace' | 'staleIfError' | 'staleWhileRevalidate';

/**
 * Without `match.status`, a rule's ttl, default-ttl and force act on the statuses nginx's
 * `proxy_cache_valid <time>` does by default, widened to RFC 9110 §15.1's heuristically cacheable
 * successes and permanent redirects: an error is only given a lifetime by a rule that names it.
 */
export const DEFAULT_TTL_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308]);

const ANY_STATUS = (): boolean => true;

interface CompiledRule {
  name: string;
  path: RegExp | undefined;
  methods: ReadonlySet<string>;
  /** Explicit match.status; undefined = none given. */
  status: ((status: number) => boolean) | undefined;
  bypass?: boolean;
  stripCookies?: boolean;
  ignoreQuery?: RegExp | null;
  sortQuery?: boolean;
  keyHeaders?: readonly string[];
  response: Partial<Record<ResponseSetting, number | boolean>>;
}

const MAX_REMEMBERED_PATHS = 10_000;

const MAX_REMEMBERED_QUERIES = 256;

/**
 * `keyWithQuery`, remembered per URL for one path's rules (a hot URL is rewritten once); the
 * memory is bounded by forgetting everything when full, which the working set refills.
 */
function rememberedQueryKey(query: QueryKeyRule): (key: string) => string {
  const memo = new Map<string, string>();
  return (key) => {
    let rewritten = memo.get(key);
    if (rewritten === undefined) {
      if (memo.size >= MAX_REMEMBERED_QUERIES) memo.clear();
      rewritten = keyWithQuery(key, query);
      memo.set(key, rewritten);
    }
    return rewritten;
  };
}

/** Seconds, as policy counts them (whole seconds, rounded down). */
export function durationSeconds(text: string | number): number {
  return typeof text === 'number' ? Math.floor(text) : Math.floor(parseDuration(text) / 1000);
}

/** The rules' display name: its own, or its place in the file. */
export function ruleName(rule: RuleConfig, index: number): string {
  return rule.name ?? `rules[${index}]`;
}

export function compileRules(
  rules: readonly RuleConfig[],
  base: Readonly<PolicyOptions>,
  origin: string,
): CompiledRules {
  const compiled = rules.map(compileRule);
  const noRules = constantRules(base);
  if (compiled.length === 0) return { size: 0, forRequest: () => noRules };
  const prefixLength = keyPrefix(origin).length;
  const byMethod = new Map<string, Map<string, RequestRules>>();
  let remembered = 0;
  return {
    size: compiled.length,
    forRequest(method, key) {
      const queryAt = key.indexOf('?', prefixLength);
      const path = key.slice(prefixLength, queryAt === -1 ? undefined : queryAt);
      let paths = byMethod.get(method);
      if (paths === undefined) byMethod.set(method, (paths = new Map()));
      let found = paths.get(path);
      if (found === undefined) {
        if (remembered >= MAX_REMEMBERED_PATHS) {
          for (const map of byMethod.values()) map.clear();
          remembered = 0;
        }
        found = requestRules(
          compiled.filter((rule) => rule.methods.has(method) && (rule.path === undefined || rule.path.test(path))),
          base,
          noRules,
        );
        paths.set(path, found);
        remembered++;
      }
      return found;
    },
  };
}

/** `http://origin:8000/base` → the part of every key before the client's path. */
function keyPrefix(origin: string): string {
  const base = new URL(origin);
  return `${base.origin}${base.pathname.replace(/\/+$/, '')}`;
}

function compileRule(rule: RuleConfig, index: number): CompiledRule {
  const { match } = rule;
  const paths = match.path === undefined ? undefined : typeof match.path === 'string' ? [match.path] : match.path;
  const statuses = match.status === undefined ? undefined : ([] as (number | string)[]).concat(match.status);
  const compiled: CompiledRule = {
    name: ruleName(rule, index),
    path: paths === undefined ? undefined : compileGlobs(paths),
    methods: new Set((match.methods ?? ['GET', 'HEAD']).map((method) => method.toUpperCase())),
    status: statuses === undefined ? undefined : statusMatcher(statuses),
    response: {},
  };
  if (rule.bypass !== undefined) compiled.bypass = rule.bypass;
  if (rule['strip-cookies'] !== undefined) compiled.stripCookies = rule['strip-cookies'];
  const key = rule.key;
  if (key?.['ignore-query'] !== undefined) {
    compiled.ignoreQuery = key['ignore-query'].length === 0 ? null : compileNameGlobs(key['ignore-query']);
  }
  if (key?.['sort-query'] !== undefined) compiled.sortQuery = key['sort-query'];
  if (key?.headers !== undefined) compiled.keyHeaders = key.headers.map((name) => name.toLowerCase());
  const durations = [
    ['ttl', rule.ttl],
    ['defaultTtl', rule['default-ttl']],
    ['grace', rule.grace],
    ['staleIfError', rule['stale-if-error']],
    ['staleWhileRevalidate', rule['stale-while-revalidate']],
  ] as const;
  for (const [setting, text] of durations) if (text !== undefined) compiled.response[setting] = durationSeconds(text);
  if (rule.force !== undefined) compiled.response.force = rule.force;
  return compiled;
}

function statusMatcher(statuses: readonly (number | string)[]): (status: number) => boolean {
  const exact = new Set<number>();
  const classes = new Set<number>();
  for (const status of statuses) {
    const text = String(status).trim().toLowerCase();
    if (text.endsWith('xx')) classes.add(Number(text[0]));
    else exact.add(Number(text));
  }
  return (status) => exact.has(status) || classes.has(Math.floor(status / 100));
}

/** Does this rule's response setting act on a response with `status`? */
function appliesTo(rule: CompiledRule, setting: ResponseSetting, status: number): boolean {
  if (rule.status) return rule.status(status);
  const lifetimeSetting = setting === 'ttl' || setting === 'defaultTtl' || setting === 'force';
  return lifetimeSetting ? DEFAULT_TTL_STATUSES.has(status) : ANY_STATUS();
}

/** Later rules override earlier ones' same setting: the last rule that sets one wins. */
function lastSet<K extends keyof CompiledRule>(
  rules: readonly CompiledRule[],
  field: K,
): { value: NonNullable<CompiledRule[K]> | null; rule: string } | undefined {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i] as CompiledRule;
    if (rule[field] !== undefined) return { value: rule[field] as NonNullable<CompiledRule[K]>, rule: rule.name };
  }
  return undefined;
}

function requestRules(
  matched: readonly CompiledRule[],
  base: Readonly<PolicyOptions>,
  noRules: RequestRules,
): RequestRules {
  if (matched.length === 0) return noRules;
  const bypass = lastSet(matched, 'bypass');
  const stripCookies = lastSet(matched, 'stripCookies');
  const ignoreQuery = lastSet(matched, 'ignoreQuery')?.value ?? undefined;
  const sortQuery = lastSet(matched, 'sortQuery')?.value === true;
  const query: QueryKeyRule | undefined =
    ignoreQuery || sortQuery ? { ...(ignoreQuery ? { ignore: ignoreQuery } : {}), sort: sortQuery } : undefined;
  const byStatus = new Map<
    number,
    { policy: Readonly<PolicyOptions>; decidedBy: Partial<Record<ResponseSetting, string>> }
  >();
  const resolve = (status: number) => {
    let found = byStatus.get(status);
    if (found === undefined) {
      found = responseSettings(matched, base, status);
      byStatus.set(status, found);
    }
    return found;
  };
  return Object.freeze({
    matched: Object.freeze(matched.map((rule) => rule.name)),
    bypass: bypass?.value === true ? bypass.rule : undefined,
    stripCookies: stripCookies?.value === true ? stripCookies.rule : undefined,
    keyHeaders: Object.freeze([...(lastSet(matched, 'keyHeaders')?.value ?? [])]),
    key: query ? rememberedQueryKey(query) : (key: string) => key,
    policyFor: (status: number) => resolve(status).policy,
    decidedBy: (status: number) => resolve(status).decidedBy,
  });
}

const POLICY_FIELD: Readonly<Record<ResponseSetting, keyof PolicyOptions>> = {
  ttl: 'ttl',
  force: 'force',
  defaultTtl: 'defaultTtl',
  grace: 'grace',
  staleIfError: 'staleIfError',
  staleWhileRevalidate: 'staleWhileRevalidate',
};

function responseSettings(
  matched: readonly CompiledRule[],
  base: Readonly<PolicyOptions>,
  status: number,
): { policy: Readonly<PolicyOptions>; decidedBy: Partial<Record<ResponseSetting, string>> } {
  const policy: Record<string, unknown> = { ...base };
  const decidedBy: Partial<Record<ResponseSetting, string>> = {};
  for (const rule of matched) {
    for (const [setting, value] of Object.entries(rule.response) as [ResponseSetting, number | boolean][]) {
      if (!appliesTo(rule, setting, status)) continue;
      policy[POLICY_FIELD[setting]] = value;
      decidedBy[setting] = rule.name;
    }
  }
  if (matched.some((rule) => rule.stripCookies !== undefined)) {
    policy.stripCookies = lastSet(matched, 'stripCookies')?.value === true;
  }
  return { policy: Object.freeze(policy) as unknown as Readonly<PolicyOptions>, decidedBy: Object.freeze(decidedBy) };
}

/**
 * The rule whose ttl or default-ttl gave a response its lifetime, for Cache-Status `detail`
 * (a rule changed the outcome); undefined when the lifetime is the response's own.
 */
export function lifetimeRule(
  rules: Pick<RequestRules, 'decidedBy'>,
  status: number,
  source: string | undefined,
): string | undefined {
  if (source === 'rule-ttl') return rules.decidedBy(status).ttl;
  if (source === 'rule-default-ttl') return rules.decidedBy(status).defaultTtl;
  return undefined;
}

/** The answer when no rule matches: the base policy for every status, the key unchanged. */
function constantRules(base: Readonly<PolicyOptions>): RequestRules {
  return Object.freeze({
    matched: Object.freeze([]),
    bypass: undefined,
    stripCookies: undefined,
    keyHeaders: Object.freeze([]),
    key: (key: string) => key,
    policyFor: () => base,
    decidedBy: () => Object.freeze({}),
  });
}
