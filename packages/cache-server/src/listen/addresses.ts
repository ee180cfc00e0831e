import type { AddressInfo } from 'node:net';

/** Where a cache accepts requests, as its ready line names them. */
export interface ListenAddresses {
  /** The plain port (`--port`). */
  http?: AddressInfo | undefined;
  /** The TLS port (`--tls-port`), with a certificate. */
  https?: AddressInfo | undefined;
  /** The admin port (`--admin-port`), on 127.0.0.1. */
  admin?: AddressInfo | undefined;
}

/** The ready line: every listener's URL and where the dashboard is, as fields and as its message. */
export function readyLine(
  addresses: ListenAddresses,
  adminPrefix: string,
): { fields: { http?: string; https?: string; dashboard?: string }; message: string } {
  const http = urlOf('http', addresses.http);
  const https = urlOf('https', addresses.https);
  const dashboard = dashboardUrl(addresses, adminPrefix);
  return {
    fields: { ...(http ? { http } : {}), ...(https ? { https } : {}), ...(dashboard ? { dashboard } : {}) },
    message: `cache-server ready${https ? `; HTTPS (HTTP/2) at ${https}` : ''}${dashboard ? `; dashboard at ${dashboard}` : ''}`,
  };
}

/** A listener's URL, as a browser opens it (a wildcard address shown as localhost). */
function urlOf(scheme: 'http' | 'https', address: AddressInfo | undefined): string | undefined {
  if (address === undefined) return undefined;
  const wildcard = ['0.0.0.0', '::', '::0', ''].includes(address.address);
  const host = wildcard ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}/`;
}

/**
 * Where a person finds the dashboard: on the cache port under --admin-prefix (over HTTPS when
 * there is a TLS port: with --redirect-http the plain one only redirects), else on --admin-port.
 */
function dashboardUrl(addresses: ListenAddresses, adminPrefix: string): string | undefined {
  if (adminPrefix === '') return urlOf('http', addresses.admin);
  const base = urlOf('https', addresses.https) ?? urlOf('http', addresses.http);
  return base === undefined ? undefined : `${base}${adminPrefix.slice(1)}/`;
}

/** A server's address once it listens on a port (undefined before, or on a pipe). */
export function addressOf(server: { address(): AddressInfo | string | null } | undefined): AddressInfo | undefined {
  const address = server?.address();
  return typeof address === 'object' && address !== null ? address : undefined;
}
