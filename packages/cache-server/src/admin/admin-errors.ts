import type { FastifyReply } from 'fastify';
import type { ErrorSpec } from '../errors.js';

/**
 * The admin endpoints' own errors, with stable codes like the proxy's catalogue (errors.ts).
 * They answer JSON (`{ "error": code, "message": … }`) because their callers are scripts and
 * the dashboard, not browsers loading a page.
 */
export const ADMIN_ERRORS = {
  unauthorized: {
    code: 'CACHE_ERR_ADMIN_UNAUTHORIZED',
    status: 401,
    message: 'This admin call changes the cache: send Authorization: Bearer <token>.',
  },
  forbidden: {
    code: 'CACHE_ERR_ADMIN_FORBIDDEN',
    status: 403,
    message: 'No admin token is configured, so only loopback clients may change the cache.',
  },
  notFound: {
    code: 'CACHE_ERR_ADMIN_NOT_FOUND',
    status: 404,
    message: 'No such admin endpoint.',
  },
  badRequest: {
    code: 'CACHE_ERR_ADMIN_BAD_REQUEST',
    status: 400,
    message: 'The admin request is missing or has an invalid parameter.',
  },
  storeUnavailable: {
    code: 'CACHE_ERR_STORE_UNAVAILABLE',
    status: 503,
    message: 'The shared store (Redis) is unavailable: nothing was purged there. Retry when it is back.',
  },
  badConfig: {
    code: 'CACHE_ERR_BAD_CONFIG',
    status: 400,
    message: 'The config file is invalid; the running config stays in force.',
  },
} as const satisfies Record<string, ErrorSpec>;

/**
 * Sends one of ADMIN_ERRORS; `message` replaces the generic text with a precise one, `extra`
 * adds fields to the JSON body.
 */
export function sendAdminError(
  reply: FastifyReply,
  spec: ErrorSpec,
  message = spec.message,
  extra: Record<string, unknown> = {},
): FastifyReply {
  return reply
    .code(spec.status)
    .header('cache-control', 'no-store')
    .header('x-cache-error', spec.code)
    .send({ error: spec.code, message, ...extra });
}
