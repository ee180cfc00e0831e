import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The client's address of a request, still readable once the exchange has ended: the access line
 * is written at the response's 'close', and for a client that left mid-response its connection is
 * closed by then. A closed socket can no longer ask the kernel for its peer (getpeername), so such
 * lines said `"client":""` unless something had read the address while the connection was open
 * (FINDINGS F20: a client that joined another's fetch, or left during a hit, over HTTP/1.1 or
 * HTTPS/1.1).
 *
 * So the address is read once per connection, as the connection is accepted: a socket keeps what
 * its first `remoteAddress` read (Node's `_peername`), also once closed, and every later read
 * (each access line, X-Forwarded-For) is that copy: no system call and nothing stored per
 * request. It is the getpeername the first line of each connection used to make, moved earlier,
 * and only where an access log names clients; with the log off, nothing is read.
 *
 * HTTP/2: `req.socket` is the compatibility layer's stand-in, which reaches the session's socket
 * only while the stream is open; each request is tied to its connection's address (read at
 * accept, so no system call) when it arrives.
 */
const remembered = new WeakMap<object, string>();

/** Reads the address of every connection `server` accepts, or is handed (listen/tls-listener.ts). */
export function readClientAddressesOf(server: EventEmitter): void {
  server.on('connection', readClientAddress);
}

function readClientAddress(socket: Socket): void {
  // A client that reset the connection already has no address to read: its lines say "".
  void socket.remoteAddress;
}

/** Called by the HTTP/2 listener for each request, while its session is alive. */
export function rememberClientAddress(req: object, address: string | undefined): void {
  if (address !== undefined) remembered.set(req, address);
}

export function clientAddressOf(req: IncomingMessage): string | undefined {
  return req.socket?.remoteAddress ?? remembered.get(req);
}
