import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionCount {
  /** True for a connection that arrived while `max` others were open: it is answered 503. */
  isOverLimit(socket: Socket): boolean;
  readonly open: number;
}

/**
 * Counts open client connections. One that arrives while `max` are open is still accepted, so
 * that it can be told why (503 with Retry-After, then closed), rather than reset without a word;
 * past twice `max` the kernel-level accept is refused outright (Node's maxConnections), so a
 * flood cannot exhaust file descriptors.
 */
export function countConnections(server: Server, max: number): ConnectionCount {
  const overLimit = new WeakSet<Socket>();
  let open = 0;
  server.maxConnections = max * 2;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    if (open > max) overLimit.add(socket);
  });
  return {
    isOverLimit: (socket) => overLimit.has(socket),
    get open() {
      return open;
    },
  };
}
