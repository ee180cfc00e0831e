import net from 'node:net';

/** Answers one request on a raw socket: write any bytes, stall, reset — whatever HTTP forbids. */
export type RawRoute = (socket: net.Socket, head: string) => void;

export interface RawOrigin {
  url: string;
  /** Requests seen per path (first line's target, without the query). */
  count(path: string): number;
  /** Destroys every open connection and stops listening: the next connect is refused. */
  close(): Promise<void>;
}

/**
 * An origin on a raw TCP socket, for responses a real HTTP server would never send: invalid
 * header names, conflicting lengths, bodies longer or shorter than announced. Every request head
 * on a connection (keep-alive) goes to the route for its path; bodies are not expected.
 */
export async function startRawOrigin(routes: Record<string, RawRoute>): Promise<RawOrigin> {
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const path = (head.split(' ')[1] ?? '/').split('?')[0] as string;
        counts.set(path, (counts.get(path) ?? 0) + 1);
        const route = routes[path] ?? routes['*'];
        if (route) route(socket, head);
        else socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    count: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A route that writes `bytes` and then leaves the connection as `then` says. */
export function rawReply(bytes: string | Buffer, then: 'end' | 'keep' | 'destroy' = 'end'): RawRoute {
  return (socket) => {
    socket.write(bytes);
    if (then === 'end') socket.end();
    else if (then === 'destroy') setImmediate(() => socket.destroy());
  };
}
