import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { closeAfterResponse } from '../closing-connections.js';
import { cacheKey } from '../policy/keys.js';
import { headersForClient } from '../proxy/respond/protocol.js';
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
  // Fast paths for the proxy's every request: normalising only removes or decodes characters,
  // so without `%` the prefix's first segment must appear literally; without dot segments,
  // backslashes, `//` or a fragment the raw target is already in normal form.
  if (!rawTarget.includes('%') && !rawTarget.includes(prefix.split('/')[1] ?? prefix)) return false;
  if (!/[%.\\#]|\/\//.test(rawTarget)) return startsWithSegments(rawTarget, prefix);
  const key = cacheKey(DUMMY_ORIGIN, rawTarget);
  return key !== undefined && startsWithSegments(key.slice(DUMMY_ORIGIN.length), prefix);
}

function startsWithSegments(target: string, prefix: string): boolean {
  if (!target.startsWith(prefix)) return false;
  const next = target.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/**
 * Reserves the prefix: admin routes pass (marked no-store), and anything else under the prefix,
 * which the router would hand to the proxy, gets a 404 from us instead. `<prefix>` redirects
 * to `<prefix>/`, where the dashboard's relative links work. Either way a request body is read
 * (and dropped) first, up to admin-body.ts's bound: otherwise Node reads whatever follows the
 * answer to keep the connection (500 MB behind a purge: FINDINGS F30).
 */
export const adminPrefix = fp<{ prefix: string }>(
  async (app, { prefix }) => {
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
      return sendAdminError(reply, ADMIN_ERRORS.notFound);
    });
    app.get(prefix, { config: { admin: true } }, (_request, reply) => reply.redirect(`${prefix}/`));
  },
  { name: 'simple-cache-admin-prefix', fastify: '5.x' },
);

/** 413, and the connection closed: the unread rest of the body must never be read as a request. */
function refuseBody(reply: FastifyReply): FastifyReply {
  const raw = reply.request.raw;
  reply.log.info(
    { code: ADMIN_ERRORS.bodyTooLarge.code, method: raw.method, path: raw.url?.split('?')[0] },
    'admin request body refused',
  );
  closeAfterResponse(raw);
  const { status, headers, body } = adminErrorResponse(ADMIN_ERRORS.bodyTooLarge);
  return reply
    .code(status)
    .headers(headersForClient(reply.raw, { ...headers, connection: 'close' }))
    .send(body);
}
