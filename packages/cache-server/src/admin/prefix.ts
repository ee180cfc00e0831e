import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { cacheKey } from '../policy/keys.js';
import { refuseAndClose } from '../limits/limits.js';
import { AdminBodyTooLarge, readAdminBody } from './admin-body.js';
import { ADMIN_ERRORS, adminErrorResponse, sendAdminError } from './admin-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on every admin route: the prefix guard lets these through and marks them no-store. */
    admin?: boolean;
  }
}

const DUMMY_ORIGIN = 'http://prefix.invalid';

/**
 * Is this request target under the admin prefix, once normalised the way the proxy normalises
 * it (dot segments, `%5F` for `_`, backslashes)? Then it is ours and never goes to the origin,
 * however it is spelt. A target the proxy would refuse anyway (not origin-form) is not.
 */
export function isUnderPrefix(prefix: string, rawTarget: string): boolean {
  // Fast path for the proxy's every request: normalising only removes or decodes characters,
  // so without `%` the prefix's first segment must appear literally.
  if (!rawTarget.includes('%') && !rawTarget.includes(prefix.split('/')[1] ?? prefix)) return false;
  const target = normalTarget(rawTarget);
  return target !== undefined && startsWithSegments(target, prefix);
}

/** The target as the proxy normalises it (undefined when it would refuse it); as given when already normal. */
function normalTarget(rawTarget: string): string | undefined {
  // Without dot segments, backslashes, `//` or a fragment the raw target is already in normal form.
  if (!/[%.\\#]|\/\//.test(rawTarget)) return rawTarget;
  return cacheKey(DUMMY_ORIGIN, rawTarget)?.slice(DUMMY_ORIGIN.length);
}

function startsWithSegments(target: string, prefix: string): boolean {
  if (!target.startsWith(prefix)) return false;
  const next = target.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/**
 * Reserves the prefix: admin routes pass (marked no-store), and anything else under the prefix,
 * which the router would hand to the proxy, gets an answer from us instead: 405 with Allow for
 * an admin endpoint asked with a method it does not take (RFC 9110 §15.5.6: Allow MUST list the
 * ones it does), else 404. `<prefix>` redirects to `<prefix>/`, where the dashboard's relative
 * links work. Either way a request body is read (and dropped) first, up to admin-body.ts's
 * bound: otherwise Node reads whatever follows the answer to keep the connection (500 MB behind a
 * purge: FINDINGS F30).
 */
export const adminPrefix = fp<{ prefix: string }>(
  async (app, { prefix }) => {
    // Every admin endpoint's methods, as the plugins registered after this one add them (HEAD
    // with GET: Fastify adds it). A route for every path (PURGE /*) names no endpoint.
    const methodsOf = new Map<string, string[]>();
    app.addHook('onRoute', (route) => {
      if (route.config?.admin !== true || route.url.includes('*')) return;
      const methods = methodsOf.get(route.url) ?? [];
      for (const method of [route.method].flat()) if (!methods.includes(method)) methods.push(method);
      methodsOf.set(route.url, methods.sort());
    });
    app.addHook('onRequest', async (request, reply) => {
      const admin = request.routeOptions.config.admin === true;
      if (!admin && !isUnderPrefix(prefix, request.url)) return;
      try {
        await readAdminBody(request.raw);
      } catch (error) {
        if (!(error instanceof AdminBodyTooLarge)) throw error;
        return refuseBody(reply);
      }
      if (admin) {
        reply.header('cache-control', 'no-store');
        return;
      }
      const allowed = methodsOf.get(normalTarget(request.url)?.split('?')[0] ?? '');
      if (allowed === undefined) return sendAdminError(reply, ADMIN_ERRORS.notFound);
      return sendAdminError(reply.header('allow', allowed.join(', ')), ADMIN_ERRORS.methodNotAllowed);
    });
    app.get(prefix, { config: { admin: true } }, (_request, reply) => reply.redirect(`${prefix}/`));
  },
  { name: 'simple-cache-admin-prefix', fastify: '5.x' },
);

/** 413, and the connection closed: the unread rest of the body must never be read as a request. */
function refuseBody(reply: FastifyReply): FastifyReply {
  return refuseAndClose(reply, ADMIN_ERRORS.bodyTooLarge, adminErrorResponse(ADMIN_ERRORS.bodyTooLarge));
}
