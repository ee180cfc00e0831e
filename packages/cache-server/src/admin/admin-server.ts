import Fastify, { type FastifyBaseLogger, type FastifyInstance, type LogController } from 'fastify';
import type { Logger } from 'pino';
import type { AdminDeps } from './admin-deps.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';
import { adminPlugin } from './index.js';
import { assignRequestId } from '../logger.js';
import { leaveBodiesUnparsed } from '../unparsed-bodies.js';

/** Only ever bound here: the admin port is for the machine itself (and an SSH tunnel). */
export const ADMIN_HOST = '127.0.0.1';

/** Where the endpoints live on the admin port when the cache port has none (`--admin-prefix off`). */
export const ADMIN_PORT_PREFIX = '/_cache';

/**
 * The optional admin port (`--admin-port`): the same admin endpoints under the same prefix, and
 * nothing else — no proxy behind it. `/` leads to the dashboard.
 */
export async function buildAdminServer(
  deps: AdminDeps,
  logger: Logger,
  logController?: LogController,
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The ids of the access log (logger.ts), so that a request's error lines and its access line agree.
    genReqId: assignRequestId,
    ...(logController ? { logController } : {}),
    // A target the router cannot decode (`/_cache/%zz`): our 400, not Fastify's JSON.
    frameworkErrors: (_error, _request, reply) =>
      void sendAdminError(reply, ADMIN_ERRORS.badRequest, 'The request target is not a valid path.'),
  });
  // No admin endpoint takes a body: `curl -X DELETE -d …` is a purge like any other.
  leaveBodiesUnparsed(app);
  const adminPrefix = deps.config.adminPrefix || ADMIN_PORT_PREFIX;
  await app.register(adminPlugin, { ...deps, config: { ...deps.config, adminPrefix } });
  app.get('/', (_request, reply) => reply.redirect(`${adminPrefix}/`));
  app.setNotFoundHandler((_request, reply) => sendAdminError(reply, ADMIN_ERRORS.notFound));
  return app;
}
