import type { IncomingMessage } from 'node:http';

/**
 * The client's address of a request, still readable once the exchange has ended (the access line
 * is written at the response's 'close'). HTTP/1.1: the request's socket, which keeps its address.
 * HTTP/2: `req.socket` is the compatibility layer's proxy to the session's socket, and a closed
 * stream has no session any more, so it reads `undefined` (FINDINGS F20: every HTTP/2 access line
 * said `"client":""`); the HTTP/2 listener remembers the address when the request arrives.
 */
const remembered = new WeakMap<object, string>();

/** Called by the HTTP/2 listener for each request, while its session is alive. */
export function rememberClientAddress(req: object, address: string | undefined): void {
  if (address !== undefined) remembered.set(req, address);
}

export function clientAddressOf(req: IncomingMessage): string | undefined {
  return req.socket?.remoteAddress ?? remembered.get(req);
}
