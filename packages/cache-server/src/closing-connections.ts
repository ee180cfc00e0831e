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
  if (req.httpVersionMajor !== 1) return;
  closing.add(req.socket);
  // A refused request's body may still be on its way (RFC 9112 §9.6).
  if (!req.complete) lingerOnClose(req.socket);
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

/**
 * How long a connection the cache closes keeps reading after its last response (nginx's
 * `lingering_timeout` is 5 s too), unless the client closes first, as it does once it read it.
 */
export const LINGER_MS = 5_000;

/**
 * RFC 9112 §9.6: the cache closes an HTTP/1.1 connection in stages where the client may still be
 * sending. Node, once the response that closes a connection is handed to the kernel, destroys the
 * socket at once. Bytes the client sends after that (the body it was right to send after its
 * wait for a 100 that never came, RFC 9110 §10.1.1, or the rest of a refused request's body) then
 * reach a closed socket, and the kernel answers them with a reset that throws away what of the
 * responses it had not yet delivered: a pipelining client reading slowly saw the response before
 * the closing one cut short (the fuzzer, seed 12648430 on a loaded machine: 2,478,842 bytes of
 * 2,571,151). So such a connection half-closes, reads and ignores what comes (nothing after the
 * closing response is processed or answered), and closes when the client does, or after
 * LINGER_MS. Only those connections (as nginx's `lingering_close on` lingers only when the client
 * may send more): a plain `Connection: close` request has nothing left to send, and lingering on
 * every connection raised a new-connection hit's CPU from ~1.1× to ~1.6× the bare node:http
 * ceiling's (`pnpm bench --scenarios hits --hit-tests close`, 2026-12-06).
 */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = lingeringClose;
}

function lingeringClose(this: Socket): void {
  // Requests Node parses from here on are neither processed nor answered (app.ts), nor are
  // malformed bytes (limits/client-errors.ts).
  closing.add(this);
  const close = () => this.destroy();
  if (this.writable) this.end();
  if (this.readableEnded || this.destroyed) {
    // The client closed its side: nothing more can come. Node's own way.
    if (this.writableFinished) close();
    else this.once('finish', close);
    return;
  }
  // Not sooner than Node's way: by the time it runs, the kernel has every byte of the response.
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  this.once('end', close);
  this.once('close', () => clearTimeout(timer));
  // Node pauses a connection whose responses are queued; what the client sends must be read.
  this.resume();
}
