import fp from 'fastify-plugin';
import {
  explainEntry,
  explainNothingStored,
  explainResponse,
  type ExplainStep,
  type ResponseExplanation,
} from '../policy/explain.js';
import { toCacheError } from '../origin/origin-client.js';
import type { RequestRules } from '../rules/index.js';
import { isTruthy, queryParam, type AdminDeps } from './admin-deps.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';
import { summarizeEntry } from './entry-listing.js';
import { resolveTarget } from './target.js';

/**
 * `<prefix>/explain?url=…`: for every stored variant of the URL, the policy's own reasoning
 * (policy/explain.ts) under the rules in force, which it names first (`rules`, and a first step).
 * With nothing stored, the origin is asked once (a GET whose body is discarded and never stored)
 * so the answer can say why its response would or would not be stored; `probe=1` asks even when
 * something is stored, `probe=0` never.
 */
export const adminExplain = fp<AdminDeps>(
  async (app, deps) => {
    const { adminPrefix: prefix, origin, tagHeaders } = deps.config;

    app.get(`${prefix}/explain`, { config: { admin: true } }, async (request, reply) => {
      const url = queryParam(request.query, 'url');
      const target = url === undefined ? undefined : resolveTarget(origin, url);
      if (target === undefined) {
        return sendAdminError(reply, ADMIN_ERRORS.badRequest, 'url=… must be a path or an http(s) URL');
      }
      const { rules: compiled } = deps.live.current;
      const rules = compiled.forRequest('GET', target);
      // Without rules in the config, the policy's own steps say everything.
      const ruleSteps = (status?: number) => (compiled.size === 0 ? [] : [rulesStep(rules, status)]);
      const key = rules.key(target);
      const now = Date.now();
      const stored = await deps.store.lookup(key);
      const probeParam = queryParam(request.query, 'probe');
      const probe = probeParam === undefined ? stored.length === 0 : isTruthy(probeParam);
      const context = { origin, now, policy: deps.policy, tagHeaders };
      return {
        url,
        key,
        now,
        rules: {
          matched: rules.matched,
          bypass: rules.bypass ?? null,
          stripCookies: rules.stripCookies ?? null,
          keyHeaders: rules.keyHeaders,
        },
        stored: stored.length,
        next: rules.bypass !== undefined ? 'bypass' : stored.length === 0 ? 'miss' : undefined,
        steps: stored.length === 0 ? [...ruleSteps(), ...explainNothingStored()] : undefined,
        variants: stored.map((entry) => {
          const explained = explainEntry(entry, now, rules.policyFor(entry.status));
          return {
            entry: summarizeEntry(entry, context),
            ...explained,
            rules: rules.decidedBy(entry.status),
            steps: [...ruleSteps(entry.status), ...explained.steps],
          };
        }),
        probe: probe ? await probeOrigin(deps, target, now, rules) : undefined,
      };
    });
  },
  { name: 'simple-cache-admin-explain', fastify: '5.x' },
);

type ProbeResult = (ResponseExplanation & { ok: true }) | { ok: false; error: string };

/**
 * The operator's rules for the URL: which match, and (for a stored status) which rule set each
 * setting. Named first, because they override what the origin's headers say.
 */
function rulesStep(rules: RequestRules, status?: number): ExplainStep {
  const rfc = 'config file rules';
  if (rules.bypass !== undefined) {
    const text = `Rule ${rules.bypass} bypasses the cache here: requests go to the origin, nothing is served from or stored in the cache.`;
    return { check: 'rules', reason: 'bypass', rfc, text };
  }
  if (rules.matched.length === 0) {
    return { check: 'rules', reason: 'no-rule', rfc, text: 'No rule matches this URL: the origin’s headers decide.' };
  }
  const settings = status === undefined ? [] : Object.entries(rules.decidedBy(status));
  const decided = settings.map(([setting, rule]) => `${SETTING_NAMES[setting] ?? setting} from ${rule}`).join(', ');
  const text = `Rules matching this URL: ${rules.matched.join(', ')}.${decided ? ` For a ${status}: ${decided}.` : ''}`;
  return { check: 'rules', reason: rules.matched.join(','), rfc, text };
}

/** The file's names of the settings. */
const SETTING_NAMES: Readonly<Record<string, string>> = {
  ttl: 'ttl',
  force: 'force',
  defaultTtl: 'default-ttl',
  grace: 'grace',
  staleIfError: 'stale-if-error',
  staleWhileRevalidate: 'stale-while-revalidate',
};

/** A plain GET to the origin (no client headers): what would it answer now, and would that be stored? */
async function probeOrigin(deps: AdminDeps, url: string, now: number, rules: RequestRules): Promise<ProbeResult> {
  const req = { method: 'GET', headers: { via: `1.1 ${deps.config.name}` } };
  try {
    const response = await deps.origin.request({ ...req, url });
    response.body.destroy();
    const policy = rules.policyFor(response.status);
    return { ok: true, ...explainResponse({ method: 'GET', headers: {} }, response, now, policy) };
  } catch (error) {
    return { ok: false, error: toCacheError(error).code };
  }
}
