import fp from 'fastify-plugin';
import { explainEntry, explainNothingStored, explainResponse, type ResponseExplanation } from '../policy/explain.js';
import { toCacheError } from '../origin/origin-client.js';
import { isTruthy, queryParam, type AdminDeps } from './admin-deps.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';
import { summarizeEntry } from './entry-listing.js';
import { resolveTarget } from './target.js';

/**
 * `<prefix>/explain?url=…`: for every stored variant of the URL, the policy's own reasoning
 * (policy/explain.ts). With nothing stored, the origin is asked once (a GET whose body is
 * discarded and never stored) so the answer can say why its response would or would not be
 * stored; `probe=1` asks even when something is stored, `probe=0` never.
 */
export const adminExplain = fp<AdminDeps>(
  async (app, deps) => {
    const { adminPrefix: prefix, origin, tagHeaders } = deps.config;

    app.get(`${prefix}/explain`, { config: { admin: true } }, async (request, reply) => {
      const url = queryParam(request.query, 'url');
      const key = url === undefined ? undefined : resolveTarget(origin, url);
      if (key === undefined) {
        return sendAdminError(reply, ADMIN_ERRORS.badRequest, 'url=… must be a path or an http(s) URL');
      }
      const now = Date.now();
      const stored = await deps.store.lookup(key);
      const probeParam = queryParam(request.query, 'probe');
      const probe = probeParam === undefined ? stored.length === 0 : isTruthy(probeParam);
      const context = { origin, now, policy: deps.policy, tagHeaders };
      return {
        url,
        key,
        now,
        stored: stored.length,
        next: stored.length === 0 ? 'miss' : undefined,
        steps: stored.length === 0 ? explainNothingStored() : undefined,
        variants: stored.map((entry) => ({
          entry: summarizeEntry(entry, context),
          ...explainEntry(entry, now, deps.policy),
        })),
        probe: probe ? await probeOrigin(deps, key, now) : undefined,
      };
    });
  },
  { name: 'simple-cache-admin-explain', fastify: '5.x' },
);

type ProbeResult = (ResponseExplanation & { ok: true }) | { ok: false; error: string };

/** A plain GET to the origin (no client headers): what would it answer now, and would that be stored? */
async function probeOrigin(deps: AdminDeps, key: string, now: number): Promise<ProbeResult> {
  const req = { method: 'GET', headers: { via: `1.1 ${deps.config.name}` } };
  try {
    const response = await deps.origin.request({ ...req, url: key });
    response.body.destroy();
    return { ok: true, ...explainResponse({ method: 'GET', headers: {} }, response, now, deps.policy) };
  } catch (error) {
    return { ok: false, error: toCacheError(error).code };
  }
}
