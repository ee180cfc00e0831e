import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerOptions } from 'node:http';
import type { Server } from 'node:net';
import type { CacheServerConfig, HeaderMap } from '@simple-cache/common';
import { closeAfterResponse } from '../closing-connections.js';
import { ERRORS, type ErrorSpec } from '../errors.js';
import { contentLengthOf, errorResponse } from '../proxy/respond/heads.js';
import { headersForClient } from '../proxy/respond/protocol.js';
import { createClientErrorHandler, refuseConnect } from './client-errors.js';
import { countConnections } from './connection-count.js';
import { answerExpectContinue } from './expect-continue.js';
import { monitorEventLoop } from './overload.js';
import { checkRequestTarget } from './request-target.js';

/** Seconds a client refused for load (503) is asked to wait before retrying. */
export const RETRY_AFTER_SECONDS = 2;

/** Longest interval between Node's checks of headersTimeout / requestTimeout (its default is 30 s). */
const MAX_CHECK_INTERVAL_MS = 1_000;

type Limits = Pick<
  CacheServerConfig,
  | 'maxConnections'
  | 'maxHeaderSize'
  | 'maxBodySize'
  | 'headersTimeout'
  | 'requestTimeout'
  | 'idleTimeout'
  | 'maxEventLoopDelay'
  | 'name'
>;

/**
 * Fastify and Node server options for the client side: header size (→ 431), time to send the
 * head (slowloris → 408) and the whole request (→ 408), and idle connections (e.g. a client that
 * stopped reading) closed. What Node refuses before any route (those, an unknown method, a
 * request it cannot parse) gets the cache's error answer (client-errors.ts). A missing Host is
 * ours to refuse too (request-target.ts), with the catalogue's code.
 */
export function serverOptions(config: Limits): Pick<
  FastifyServerOptions,
  'connectionTimeout' | 'requestTimeout' | 'clientErrorHandler'
> & {
  http: ServerOptions;
} {
  const headersTimeout = Math.min(config.headersTimeout, config.requestTimeout);
  return {
    connectionTimeout: config.idleTimeout,
    requestTimeout: config.requestTimeout,
    clientErrorHandler: createClientErrorHandler(config.name),
    http: {
      requireHostHeader: false,
      maxHeaderSize: config.maxHeaderSize,
      headersTimeout,
      requestTimeout: config.requestTimeout,
      connectionsCheckingInterval: Math.max(10, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(headersTimeout / 4))),
    },
  };
}

/** The targets of refused requests, whose `url` was replaced so that the router takes them. */
const refusedTargets = new WeakMap<IncomingMessage, string>();

/** The request target as the client sent it, also when the request was refused (for the access log). */
export function targetAsSent(raw: IncomingMessage): string {
  return refusedTargets.get(raw) ?? raw.url ?? '';
}

/**
 * Refuses, before the proxy sees them, requests the cache will not take: over the connection
 * limit or while the event loop is overloaded (503 + Retry-After), framing that cannot be read
 * one way only (400), and bodies announced larger than `maxBodySize` (413; streamed bodies are
 * counted by the origin client). Every refusal closes the connection. `servers` are those whose
 * connections count (all protocols) and those that accept them (listen/listeners.ts).
 */
export function installLimits(
  app: FastifyInstance,
  config: Limits,
  servers: { counted: readonly EventEmitter[]; listening: readonly Server[] } = {
    counted: [app.server],
    listening: [app.server],
  },
): { accept(raw: IncomingMessage): void; admits(raw: IncomingMessage): boolean } {
  const connections = countConnections(servers, config.maxConnections);
  /** Requests refused by `accept`, answered by the onRequest hook below, with the target they came with. */
  const refused = new WeakMap<IncomingMessage, { spec: ErrorSpec; target: string }>();
  refuseConnect(app.server, config.name, () => app.log);
  answerExpectContinue(app.server);
  const overload = monitorEventLoop(config.maxEventLoopDelay);
  app.addHook('onClose', async () => overload.stop());
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const raw = request.raw;
    if (connections.isOverLimit(raw.socket)) return refuse(reply, config, ERRORS.tooManyConnections, true);
    const refusal = refused.get(raw);
    if (refusal !== undefined) {
      return refuse(reply, config, refusal.spec, false, { path: refusal.target.split('?')[0] });
    }
    if (overload.isOverloaded()) {
      return refuse(reply, config, ERRORS.overloaded, true, { delayMs: Math.round(overload.delay) });
    }
    // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (raw.httpVersion === '1.0' && raw.headers['transfer-encoding'] !== undefined) {
      return refuse(reply, config, ERRORS.badFraming, false);
    }
    if ((contentLengthOf(raw.headers) ?? 0) > config.maxBodySize) {
      return refuse(reply, config, ERRORS.bodyTooLarge, false);
    }
    done();
  });
  // For paths that answer before Fastify's hooks (proxy/fast-hit.ts): a request these checks
  // would refuse must take the full path, where it is refused as above.
  return {
    // Every request, first thing: Host and the request target (RFC 9112 §3.2).
    accept: (raw) => {
      const target = raw.url ?? '';
      const spec = checkRequestTarget(raw);
      if (spec === undefined) return;
      refused.set(raw, { spec, target });
      // A target the router cannot parse (`http:///p`) would get its JSON 400 before our hook.
      refusedTargets.set(raw, target);
      raw.url = '/';
    },
    // A request announcing a body (Transfer-Encoding, Content-Length) is sent to the full path by
    // the fast path itself, in its one pass over the field lines (proxy/fast-hit.ts).
    admits: (raw) => !refused.has(raw) && !connections.isOverLimit(raw.socket) && !overload.isOverloaded(),
  };
}

/** The cache's error answer (respond/heads.ts), with Retry-After for load, closing the connection. */
export function refuse(
  reply: FastifyReply,
  config: Limits,
  spec: ErrorSpec,
  retry: boolean,
  detail: Record<string, unknown> = {},
): void {
  const retryAfter = retry ? { retryAfterSeconds: RETRY_AFTER_SECONDS } : {};
  refuseAndClose(reply, spec, errorResponse(spec, config.name, {}, { close: true, ...retryAfter }), detail);
}

/**
 * A refusal: `answer` (the proxy's text error, or the admin catalogue's JSON) with `Connection:
 * close`, whatever the request body left unread never read as a request (RFC 9112 §9.6,
 * closing-connections.ts), and one compact log line (the path without its query, which may
 * carry secrets).
 */
export function refuseAndClose(
  reply: FastifyReply,
  spec: ErrorSpec,
  answer: { status: number; headers: HeaderMap; body: string },
  detail: Record<string, unknown> = {},
): FastifyReply {
  const { method, url = '' } = reply.request.raw;
  closeAfterResponse(reply.request.raw);
  const fields = { code: spec.code, status: spec.status, method, path: url.split('?')[0], ...detail };
  reply.log[spec.status >= 500 ? 'warn' : 'info'](fields, spec.message);
  const headers = headersForClient(reply.raw, { ...answer.headers, connection: 'close' });
  return reply.code(answer.status).headers(headers).send(answer.body);
}
