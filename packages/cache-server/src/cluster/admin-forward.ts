import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { ADMIN_ERRORS, adminErrorResponse } from '../admin/admin-errors.js';
import { isUnderPrefix } from '../admin/prefix.js';
import { contentLengthOf } from '../proxy/respond/heads.js';
import type { ErrorSpec } from '../errors.js';
import type { Bus } from './bus.js';
import { OP, type AdminAnswer, type AdminRequest } from './protocol.js';

/** Most request-body bytes an admin call may carry (none of today's endpoints reads one). */
const MAX_ADMIN_BODY = 1024 * 1024;
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
      body = await readBody(raw);
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

/** The request body, if it has one (at most MAX_ADMIN_BODY bytes; more fails the request). */
async function readBody(raw: IncomingMessage): Promise<Buffer | undefined> {
  if (raw.headers['content-length'] === undefined && raw.headers['transfer-encoding'] === undefined) return undefined;
  // Announced too large: refused before a byte of it is read.
  if ((contentLengthOf(raw.headers) ?? 0) > MAX_ADMIN_BODY) throw new Error('admin request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw) {
    size += (chunk as Buffer).length;
    if (size > MAX_ADMIN_BODY) throw new Error('admin request body too large');
    chunks.push(chunk as Buffer);
  }
  return size === 0 ? undefined : Buffer.concat(chunks);
}
