import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Whether this machine can bind the IPv6 wildcard (containers sometimes lack IPv6). */
export function canListenOnIpv6(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port: 0, host: '::', ipv6Only: false }, () => probe.close(() => resolve(true)));
  });
}

/**
 * Listens on `host:port` and returns the URL clients should use. `::` falls back to `0.0.0.0`
 * when IPv6 is unavailable, so the default host works everywhere.
 */
export async function listenOrigin(app: FastifyInstance, port: number, host: string): Promise<string> {
  const bindHost = host === '::' && !(await canListenOnIpv6()) ? '0.0.0.0' : host;
  await app.listen({ port, host: bindHost });
  const address = app.server.address() as AddressInfo;
  return `http://${formatUrlHost(bindHost)}:${address.port}`;
}

function formatUrlHost(host: string): string {
  // A wildcard is where the server listens, not an address to connect to.
  if (host === '::' || host === '0.0.0.0') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
