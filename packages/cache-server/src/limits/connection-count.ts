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
 * Counts open client connections on every listening server (the plain port, and the TLS port
 * whose connections, HTTP/1.1 and HTTP/2 alike, are handed on to the `counted` servers: each
 * of those sees its 'connection'). One that arrives while `max` are open is still accepted, so
 * that it can be told why (503 with Retry-After, then closed), rather than reset without a
 * word; past twice `max` the kernel-level accept of each `listening` server is refused outright
 * (Node's maxConnections), so a flood cannot exhaust file descriptors.
 *
 * The count is Node's own: each net.Server keeps `_connections` (what `getConnections()` and
 * `maxConnections` use), raised before 'connection' is emitted and lowered as the socket is
 * destroyed. A 'close' listener of ours on every socket cost a new connection about 1 µs of the
 * ~80 µs a bare node:http server spends on it (docs/benchmarks.md). A TLS connection counts
 * from its accept, so handshakes in progress hold a place too, as they hold a descriptor.
 */
export function countConnections(
  servers: { counted: readonly EventEmitter[]; listening: readonly Server[] },
  max: number,
): ConnectionCount {
  const listening = servers.listening as readonly (Server & { _connections: number })[];
  for (const server of listening) server.maxConnections = max * 2;
  const open = (): number => {
    let count = 0;
    for (const server of listening) count += server._connections;
    return count;
  };
  const mark = (socket: Socket) => {
    if (open() > max) (socket as Socket & { [OVER_LIMIT]?: boolean })[OVER_LIMIT] = true;
  };
  for (const server of servers.counted) server.on('connection', mark);
  return {
    isOverLimit: (socket) =>
      (socket as (Socket & { [OVER_LIMIT]?: boolean }) | null | undefined)?.[OVER_LIMIT] === true,
    get open() {
      return open();
    },
  };
}
