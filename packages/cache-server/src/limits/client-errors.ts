import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { ERRORS, type ErrorSpec } from '../errors.js';
import { errorResponse } from '../proxy/respond/heads.js';
import { isClosing, lingerOnClose } from '../closing-connections.js';

/**
 * What a 405 lists (RFC 9110 §15.5.6 and §10.2.1: Allow MUST be sent): the methods this cache
 * answers or forwards. Node's parser refuses methods it does not know (Varnish's BAN, say)
 * before any of our code runs; CONNECT is for forward proxies, which this is not.
 */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, PURGE';

/** A method token as RFC 9110 §9.1 defines it (for the log only, and never more than 20 characters). */
const METHOD_TOKEN = /^([!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}) /;

/** Node's client errors and what the cache answers to each; anything else is a malformed request. */
const ANSWERS: Readonly<Record<string, ErrorSpec>> = {
  HPE_INVALID_METHOD: ERRORS.methodNotAllowed,
  ERR_HTTP_REQUEST_TIMEOUT: ERRORS.requestTimeout,
  HPE_HEADER_OVERFLOW: ERRORS.headersTooLarge,
};

/**
 * Fastify's clientErrorHandler (called with the Fastify instance as `this`): the requests Node
 * refused before any route saw them get the cache's own error answer (catalogue code in
 * X-Cache-Error, Cache-Status, closed connection) and one log line, instead of Fastify's JSON
 * `400 Client Error`. Issue 12.11: `BAN` gets 405; FINDINGS F7: after a response that said
 * `Connection: close`, bytes that follow are not answered at all (RFC 9112 §9.6).
 */
export function createClientErrorHandler(name: string) {
  return function onClientError(
    this: { log: FastifyBaseLogger },
    error: Error & { code?: string },
    socket: Duplex,
  ): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    // Data after `Connection: close` (the client's, or a refusal's: closing-connections.ts), however
    // malformed: never a second answer (RFC 9112 §9.6). The response in progress finishes, then
    // Node closes; with none left, the connection closes once what was written is sent. Node's
    // parser stays failed after an error and reports every later read again: what follows our
    // own answer (no longer writable) is read and ignored while the connection closes (answer()).
    if (error.code === 'HPE_CLOSED_CONNECTION' || isClosing(socket) || !socket.writable) {
      if (!hasResponseInProgress(socket)) socket.end();
      return;
    }
    // Node's parse errors carry the bytes it read (typed as something else by Fastify).
    const packet = (error as { rawPacket?: unknown }).rawPacket;
    const method = Buffer.isBuffer(packet) ? METHOD_TOKEN.exec(packet.toString('latin1'))?.[1] : undefined;
    // A method Node does not know is 405 only when it is a method at all (a token, RFC 9110 §9.1):
    // `G\x01T` is a malformed request.
    const known = error.code === 'HPE_INVALID_METHOD' && method === undefined ? undefined : ANSWERS[error.code ?? ''];
    const spec = known ?? ERRORS.malformedRequest;
    // Never the raw packet: it holds the request's headers, credentials included.
    this.log.info({ code: spec.code, status: spec.status, method, parseError: error.code }, spec.message);
    answer(socket, spec, name);
  };
}

/** `CONNECT host:port` (the 'connect' event; Node would otherwise just close the connection): 405. */
export function refuseConnect(server: Server, name: string, log: () => FastifyBaseLogger): void {
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const spec = ERRORS.methodNotAllowed;
    log().info({ code: spec.code, status: spec.status, method: req.method }, spec.message);
    answer(socket, spec, name);
  });
}

/**
 * Writes the catalogue answer on a socket no HTTP response object owns, and closes it once sent,
 * in stages (RFC 9112 §9.6, closing-connections.ts): the client may have sent more behind the
 * bytes refused (a body, pipelined requests), and closing with them unread drew a reset that
 * could throw the answer away before the client read it.
 */
function answer(socket: Duplex, spec: ErrorSpec, name: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const error = errorResponse(spec, name, {}, { close: true });
  const headers = { ...error.headers, ...(spec.status === 405 ? { allow: ALLOWED_METHODS } : {}) };
  const head = [`HTTP/1.1 ${spec.status} ${STATUS_CODES[spec.status] ?? ''}`];
  for (const [field, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) head.push(`${field}: ${item}`);
  }
  lingerOnClose(socket as Socket);
  // Once the answer is with the kernel: half-closed, the rest read and ignored, closed when the client closes.
  socket.once('finish', () => (socket as Socket).destroySoon());
  socket.end(`${head.join('\r\n')}\r\n\r\n${error.body}`);
}

/** Node's own test (lib/_http_server.js): a response is being written on this socket. */
function hasResponseInProgress(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: unknown })._httpMessage != null;
}
