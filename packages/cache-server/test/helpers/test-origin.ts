import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export interface TestOrigin {
  url: string;
  requests: SeenRequest[];
  /** Requests seen for one path (or all). */
  count(path?: string): number;
  route(path: string, handler: Route): void;
  close(): Promise<void>;
}

/**
 * A programmable origin on a real socket: each test says exactly what the origin answers
 * (headers, timing, broken bodies) and can count what reached it.
 */
export async function startTestOrigin(routes: Record<string, Route> = {}): Promise<TestOrigin> {
  const table = new Map(Object.entries(routes));
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const path = (req.url ?? '/').split('?')[0] as string;
      const handler = table.get(path) ?? table.get('*');
      if (handler) return handler(req, res, body);
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (path) => (path === undefined ? requests.length : requests.filter((r) => r.url === path).length),
    route: (path, handler) => table.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A route answering a fixed body with the given headers. */
export function fixed(body: string | Buffer, headers: http.OutgoingHttpHeaders = {}, status = 200): Route {
  return (_req, res) => {
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  };
}
