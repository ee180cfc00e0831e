import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** HTTP/1.x connections whose response in progress says `Connection: close`. */
const closing = new WeakSet<Socket>();

/**
 * The cache has decided to answer `req` with `Connection: close` (a refusal: its body, if any, is
 * left unread). RFC 9112 §9.6: the server MUST NOT process any further request on that
 * connection; Node parses what the client pipelined behind it and hands it over all the same, so
 * a refused request's successor reached the origin and its answer was thrown away. Over HTTP/2
 * a refusal ends one stream, never the connection (proxy/respond/protocol.ts).
 */
export function closeAfterResponse(req: IncomingMessage): void {
  if (req.httpVersionMajor === 1) closing.add(req.socket);
}

/**
 * A request pipelined behind a response that closes the connection: it is neither processed nor
 * answered (the connection closes once that response is sent). Decided at once: the refusals run
 * in the same tick as their request's dispatch, before Node parses the next one.
 */
export function followsClosingResponse(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && closing.has(req.socket);
}

/**
 * Whether a response in progress (or sent) on `socket` closes it: what Node's parser reads after
 * it, well formed or not, gets no answer (limits/client-errors.ts).
 */
export function isClosing(socket: object): boolean {
  return closing.has(socket as Socket);
}

/** Whether the response to `req` (or one before it on its connection) closes the connection. */
export function closesAfterResponse(req: IncomingMessage): boolean {
  return followsClosingResponse(req);
}
