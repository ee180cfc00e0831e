import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { ERRORS } from './errors.js';
import { ALLOWED_METHODS } from './limits/client-errors.js';
import { refuse } from './limits/limits.js';
import { errorResponse } from './proxy/respond/heads.js';
import { headersForClient } from './proxy/respond/protocol.js';

/**
 * What every request meets after the limits and before the proxy or the admin endpoints, where
 * the cache answers for itself rather than for the origin (RFC 9110 and 9112 rules about the
 * message, not the resource). `closing()` says whether shutdown has begun.
 */
export function checkAtFrontDoor(
  config: Parameters<typeof refuse>[1],
  closing: () => boolean,
): (request: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  return (request, reply, done) => {
    // Connections still open during shutdown: the catalogue's 503, not Fastify's JSON one.
    if (closing()) return refuse(reply, config, ERRORS.shuttingDown, false);
    const raw = request.raw;
    // RFC 9110 §9.3.8 lets a proxy forward TRACE, but the echo shows the request as the origin got
    // it: the client's Cookie and Authorization (cross-site tracing) and the fields the cache adds.
    // Refused, as nginx does.
    if (raw.method === 'TRACE') {
      reply.header('allow', ALLOWED_METHODS);
      return refuse(reply, config, ERRORS.methodNotAllowed, false);
    }
    // RFC 9112 §6.3: codings that do not end with chunked leave the body without a length the
    // cache can trust: 400, connection closed, before anything reaches the origin (Node's parser
    // refuses them too, but only after it has handed the request over). §6.1: a transfer coding the
    // cache does not decode (only chunked is) would reach the origin as content once the cache
    // re-frames the body: 501, as nginx answers.
    const codings = raw.headers['transfer-encoding']?.split(',').map((coding) => coding.trim().toLowerCase());
    if (codings !== undefined && codings.at(-1) !== 'chunked') return refuse(reply, config, ERRORS.badFraming, false);
    if (codings !== undefined && codings.length > 1) {
      return refuse(reply, config, ERRORS.unsupportedTransferCoding, false);
    }
    // RFC 9110 §7.6.2: an intermediary MUST answer an OPTIONS with Max-Forwards: 0 itself, and
    // decrement the field otherwise (TRACE, the other method it applies to, is refused above).
    const maxForwards = raw.method === 'OPTIONS' ? raw.headers['max-forwards'] : undefined;
    if (typeof maxForwards === 'string' && /^\d+$/.test(maxForwards)) {
      if (Number(maxForwards) === 0) return answerOptions(reply, config.name);
      raw.headers['max-forwards'] = String(Number(maxForwards) - 1);
    }
    done();
  };
}

/**
 * A method no route takes: over HTTP/2 a method is any token (`BAN`, `FROB`, lower-case `get`),
 * where over HTTP/1.1 Node's parser refuses the ones it does not know before any of our code runs
 * (limits/client-errors.ts). Fastify's router, which has no route for a method it was never told
 * of, answered its own JSON 404 and logged its whole route tree, twice per request, as "likely a
 * fastify bug". The same answer as over HTTP/1.1 instead (RFC 9110 §15.5.6: 405 with Allow), on
 * that stream only, and one log line.
 */
export function refuseUnknownMethod(
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  log: Pick<Logger, 'info'>,
): void {
  const spec = ERRORS.methodNotAllowed;
  const method = req.method?.slice(0, 20);
  log.info({ code: spec.code, status: spec.status, method, path: req.url?.split('?')[0] }, spec.message);
  const error = errorResponse(spec, name, {});
  res.writeHead(error.status, headersForClient(res, { ...error.headers, allow: ALLOWED_METHODS }));
  res.end(error.body);
}

/** The cache's own answer to OPTIONS as its final recipient (RFC 9110 §9.3.7): what it takes. */
function answerOptions(reply: FastifyReply, name: string): void {
  reply
    .code(200)
    .headers({ allow: ALLOWED_METHODS, 'content-length': '0', 'cache-control': 'no-store', via: `1.1 ${name}` });
  reply.send();
}
