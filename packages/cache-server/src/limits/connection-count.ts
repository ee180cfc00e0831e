import type { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';

export interface ConnectionCount {
  /**
   * True for a connection that arrived while `max` others were open: it is answered 503. Takes
   * the request's `socket`, which over HTTP/2 is Node's stand-in for the connection's socket.
   */
  isOverLimit(socket: Socket | null | undefined): boolean;
  readonly open: number;
}

/**
 * Marks a connection accepted beyond the limit. A property on the socket, not a set of sockets:
 * an HTTP/2 request's `socket` is a proxy that reads through to the connection's socket, never
 * the socket object itself.
 */
const OVER_LIMIT = Symbol('simple-cache.overLimit');

/**
 * Counts open client connections on every server given (the plain HTTP/1.1 server and the
 * HTTP/2 one the TLS listener hands its `h2` connections to: each sees its 'connection'). One
 * that arrives while `max` are open is still accepted, so that it can be told why (503 with
 * Retry-After, then closed), rather than reset without a word; past twice `max` the
 * kernel-level accept of each `listening` server is refused outright (Node's maxConnections),
 * so a flood cannot exhaust file descriptors.
 */
export function countConnections(
  servers: { counted: readonly EventEmitter[]; listening: readonly Server[] },
  max: number,
): ConnectionCount {
  let open = 0;
  for (const server of servers.listening) server.maxConnections = max * 2;
  for (const server of servers.counted) {
    server.on('connection', (socket: Socket) => {
      open++;
      socket.once('close', () => open--);
      if (open > max) (socket as Socket & { [OVER_LIMIT]?: boolean })[OVER_LIMIT] = true;
    });
  }
  return {
    isOverLimit: (socket) =>
      (socket as (Socket & { [OVER_LIMIT]?: boolean }) | null | undefined)?.[OVER_LIMIT] === true,
    get open() {
      return open;
    },
  };
}
