import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { readAdminBody } from '../admin/admin-body.js';
import { ADMIN_ERRORS, adminErrorResponse } from '../admin/admin-errors.js';
import { isUnderPrefix } from '../admin/prefix.js';
import type { ErrorSpec } from '../errors.js';
import type { Bus } from './bus.js';
import { OP, type AdminAnswer, type AdminRequest } from './protocol.js';

/** An admin answer the primary owes for this long is given up on (502 CACHE_ERR_ADMIN_UNAVAILABLE). */
const ADMIN_TIMEOUT_MS = 60_000;
/** Request header naming the worker that handed an admin request over (set here, never the client's). */
export const WORKER_HEADER = 'x-simple-cache-worker';
/** Fields of the primary's answer that describe its own connection, not the answer. */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * In a worker, the admin endpoints (everything under `--admin-prefix`, and `PURGE`) are the
 * primary's: it runs them against the whole cache (admin-host.ts). This hook hands each such
 * request over (with the client's address, which purge authorisation reads) and writes the answer
 * back as it came. Registered where the admin plugin would be, after the limits.
 */
export function forwardAdminRequests(app: FastifyInstance, bus: Bus, prefix: string, slot: number): void {
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    if (raw.method !== 'PURGE' && !isUnderPrefix(prefix, raw.url ?? '')) return;
    reply.hijack();
    const res = reply.raw;
    let body: Buffer | undefined;
    try {
      body = await readAdminBody(raw);
    } catch (error) {
      request.log.info({ err: error }, 'an admin request body was refused');
      // The unread rest of the body must not be read as a request.
      return void sendAdminAnswer(res, ADMIN_ERRORS.bodyTooLarge, true);
    }
    try {
      const forwarded: AdminRequest = {
        method: raw.method ?? 'GET',
        url: raw.url ?? '/',
        headers: { ...raw.headers, [WORKER_HEADER]: String(slot) },
        remoteAddress: raw.socket.remoteAddress,
        ...(body ? { body: body.toString('base64') } : {}),
      };
      const answer = await bus.request<AdminAnswer>(OP.admin, forwarded, ADMIN_TIMEOUT_MS);
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(answer.headers)) {
        if (!CONNECTION_FIELDS.has(name)) headers[name] = value;
      }
      res.writeHead(answer.status, headers);
      res.end(raw.method === 'HEAD' ? undefined : Buffer.from(answer.body, 'base64'));
    } catch (error) {
      request.log.warn({ err: error }, 'the primary did not answer an admin request');
      if (res.headersSent) return void res.destroy();
      sendAdminAnswer(res, ADMIN_ERRORS.unavailable, false);
    }
  });
}

/** One of the admin catalogue's errors, as the primary's admin endpoints would answer it. */
function sendAdminAnswer(res: ServerResponse, spec: ErrorSpec, close: boolean): void {
  const error = adminErrorResponse(spec);
  const length = String(Buffer.byteLength(error.body));
  res.writeHead(error.status, {
    ...error.headers,
    'content-length': length,
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(error.body);
}
