import type { FastifyReply } from 'fastify';
import { ERRORS, type ErrorSpec } from '../errors.js';

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
    message:
      "No admin token is configured, so only loopback clients may change the cache, naming it by a loopback name (Host: localhost, 127.0.0.1, [::1]) and not from another site's page (Origin).",
  },
  notFound: {
    code: 'CACHE_ERR_ADMIN_NOT_FOUND',
    status: 404,
    message: 'No such admin endpoint.',
  },
  methodNotAllowed: {
    // The proxy's code (errors.ts): one code for a method a resource does not take.
    code: ERRORS.methodNotAllowed.code,
    status: 405,
    message: 'This admin endpoint does not take that method: Allow lists the ones it takes.',
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
  bodyTooLarge: {
    code: 'CACHE_ERR_ADMIN_BODY_TOO_LARGE',
    status: 413,
    message: 'An admin request body may not exceed 1 MiB.',
  },
  unavailable: {
    code: 'CACHE_ERR_ADMIN_UNAVAILABLE',
    status: 502,
    message: 'The admin endpoints are not available right now (the primary did not answer); retry.',
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
  const { headers, body } = adminErrorResponse(spec, message, extra);
  return reply.code(spec.status).headers(headers).send(body);
}

/** One of ADMIN_ERRORS as a head and a JSON body, for a response Fastify does not send (hijacked). */
export function adminErrorResponse(
  spec: ErrorSpec,
  message = spec.message,
  extra: Record<string, unknown> = {},
): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: spec.status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'x-cache-error': spec.code,
    },
    body: JSON.stringify({ error: spec.code, message, ...extra }),
  };
}
