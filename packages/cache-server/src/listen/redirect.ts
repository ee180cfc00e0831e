import type { IncomingMessage, ServerResponse } from 'node:http';

/** A Host field's host: a name or IPv4 address, or an IPv6 literal in brackets (RFC 3986 §3.2.2). */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/;

/**
 * `--redirect-http`: every request on the plain port is answered 308 Permanent Redirect (RFC 9110
 * §15.4.9: unlike 301, the method and body are kept) to the same target over HTTPS, on the TLS
 * port. Nothing is served, stored or forwarded in plain text. A request without a usable Host
 * (HTTP/1.0) is sent to the address it arrived at.
 */
export function redirectToHttps(req: IncomingMessage, res: ServerResponse, tlsPort: number): void {
  const location = `https://${authorityFor(req, tlsPort)}${targetOf(req.url ?? '/')}`;
  // A request body is never read: the connection cannot carry another request after it.
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  res.writeHead(308, {
    location,
    'content-length': '0',
    ...(hasBody ? { connection: 'close' } : {}),
  });
  res.end();
}

function authorityFor(req: IncomingMessage, tlsPort: number): string {
  const host = req.headers.host;
  const match = typeof host === 'string' ? HOST.exec(host.trim()) : null;
  let name = match?.[1];
  if (name === undefined) {
    const address = req.socket.localAddress ?? 'localhost';
    name = address.includes(':') ? `[${address}]` : address;
  }
  return tlsPort === 443 ? name : `${name}:${tlsPort}`;
}

/** Origin-form as it came; an absolute-form target keeps only its path and query; `*` becomes `/`. */
function targetOf(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  } catch {
    return '/';
  }
}
