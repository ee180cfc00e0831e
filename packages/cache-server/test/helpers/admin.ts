import http, { type OutgoingHttpHeaders } from 'node:http';
import { Duplex } from 'node:stream';
import { request, type Reply } from './http.js';

export const PREFIX = '/_cache';

/** An admin call over a real socket; the JSON body parsed when there is one. */
export async function admin(
  base: string,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; token?: string } = {},
): Promise<Reply & { json: Record<string, unknown> }> {
  const headers = { ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  const reply = await request(base, path, { method: options.method ?? 'GET', headers });
  const isJson = String(reply.headers['content-type'] ?? '').startsWith('application/json');
  return { ...reply, json: isJson ? (JSON.parse(reply.body.toString()) as Record<string, unknown>) : {} };
}

/**
 * One sample of the Prometheus text format, e.g. `metricValue(text, 'simple_cache_requests_total',
 * { cache_status: 'hit' })`; undefined when absent. Labels must match exactly (all of them).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}

/** One end of an in-memory connection: what one end writes, the other reads. */
class MemorySocket extends Duplex {
  peer: MemorySocket | undefined;
  constructor(readonly remoteAddress: string) {
    super();
  }
  readonly remotePort = 50_000;
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.peer?.push(chunk);
    callback();
  }
  override _final(callback: () => void): void {
    this.peer?.push(null);
    callback();
  }
  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.peer?.push(null);
    callback(error);
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/**
 * A real HTTP exchange with `server` whose peer address is `remoteAddress`, over an in-memory
 * connection handed to the server as if it had been accepted: Node's own HTTP parser and the
 * whole Fastify stack run, and no packet is sent anywhere. This is how the tests play a client
 * from another machine without sending traffic to a non-loopback address.
 */
export function requestFromPeer(
  server: http.Server,
  remoteAddress: string,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders } = {},
): Promise<Reply & { json: Record<string, unknown> }> {
  const client = new MemorySocket('127.0.0.1');
  const accepted = new MemorySocket(remoteAddress);
  client.peer = accepted;
  accepted.peer = client;
  server.emit('connection', accepted);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        method: options.method ?? 'GET',
        path,
        headers: { host: 'cache.test', ...options.headers },
        // No agent: the request uses this connection and no other.
        createConnection: () => client as unknown as import('node:net').Socket,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: isJson ? (JSON.parse(body.toString()) as Record<string, unknown>) : {},
          });
          client.destroy();
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
