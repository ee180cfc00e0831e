import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP, isIPv4 } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';

export type AdminAccess = 'allowed' | 'unauthorized' | 'forbidden';

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for admin routes that change state (purges): see `decideAdminAccess`. */
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
}

const IPV6_LOOPBACK = new BlockList();
IPV6_LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3), ::1 (RFC 4291 §2.5.3), and 127.x written as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  const v4 = mapped ?? address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  try {
    return IPV6_LOOPBACK.check(address, 'ipv6');
  } catch {
    return false;
  }
}

/**
 * Who may change the cache (purge, reload). With a token configured: whoever sends
 * `Authorization: Bearer <token>`, from anywhere. Without one: loopback clients only, judged by
 * the socket's own peer address: no X-Forwarded-For or other header a client can write counts.
 *
 * A loopback peer is not enough on its own: a web page the operator opens can make the browser
 * send requests to 127.0.0.1 too, either as a cross-site "simple" request (a form POST: no CORS
 * preflight) or, after re-pointing its own name at 127.0.0.1 (DNS rebinding), as a same-origin
 * one. So without a token the request must also name the cache by a loopback name (Host), and a
 * browser's request must come from that same origin (Origin, Sec-Fetch-Site), as Jupyter and
 * Docker check against rebinding. curl and scripts send no Origin; the dashboard's own requests
 * are same-origin.
 */
export function decideAdminAccess(input: {
  token: string;
  authorization: string | undefined;
  remoteAddress: string | undefined;
  /** Host (`:authority` over HTTP/2); absent only in HTTP/1.0 requests, which no browser sends. */
  host?: string | undefined;
  /** Whether the request came over TLS: an Origin names its scheme too. */
  secure?: boolean;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
}): AdminAccess {
  if (input.token === '') {
    if (!isLoopbackAddress(input.remoteAddress)) return 'forbidden';
    return namesThisMachine(input.host) && fromSameOrigin(input) ? 'allowed' : 'forbidden';
  }
  const presented = /^Bearer +(\S+) *$/i.exec(input.authorization ?? '')?.[1];
  return presented !== undefined && sameSecret(presented, input.token) ? 'allowed' : 'unauthorized';
}

/**
 * A Host a rebinding page cannot take: a loopback address, `localhost` (RFC 6761 §6.3: resolved
 * to loopback by the client itself, never through DNS) and its subdomains, or this machine's own
 * name (Debian maps it to 127.0.1.1). With any port.
 */
function namesThisMachine(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = hostOf(host);
  if (name === undefined) return false;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) !== 0) return isLoopbackAddress(name);
  return name === hostname().toLowerCase();
}

/** No Origin (curl, scripts) or the very origin the request names in Host; never cross-site. */
function fromSameOrigin(input: {
  host?: string | undefined;
  secure?: boolean;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
}): boolean {
  if (input.secFetchSite !== undefined && input.secFetchSite.toLowerCase() === 'cross-site') return false;
  if (input.origin === undefined) return true;
  let origin: URL;
  try {
    origin = new URL(input.origin);
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) included
  }
  if (input.host === undefined || origin.protocol !== (input.secure === true ? 'https:' : 'http:')) return false;
  const defaultPort = origin.protocol === 'https:' ? '443' : '80';
  const [name, port = defaultPort] = splitHost(input.host.toLowerCase());
  return origin.hostname === name && (origin.port || defaultPort) === port;
}

/** The host name of a Host field value, lower-cased, IPv6 without brackets; undefined if malformed. */
function hostOf(host: string): string | undefined {
  const name = splitHost(host.toLowerCase())[0];
  return name === '' ? undefined : name.replace(/^\[(.*)\]$/, '$1');
}

/** `name[:port]` / `[v6][:port]` → [name as URL.hostname writes it, port?]. */
function splitHost(host: string): [string, string?] {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(host);
  if (match === null) return [''];
  const [, name = '', port] = match;
  return port === undefined || port === '' ? [name] : [name, port];
}

/** Constant-time comparison (hashes first, so lengths leak nothing either). */
function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Decorates `requireAdmin`, the preHandler every state-changing admin route uses. */
export const adminAuth = fp<{ token: string }>(
  async (app, { token }) => {
    app.decorate('requireAdmin', async function requireAdmin(request: FastifyRequest, reply: FastifyReply) {
      const access = decideAdminAccess({
        token,
        authorization: request.headers.authorization,
        remoteAddress: request.raw.socket.remoteAddress,
        host: request.headers.host ?? firstValue(request.headers[':authority']),
        secure: request.protocol === 'https',
        origin: request.headers.origin,
        secFetchSite: firstValue(request.headers['sec-fetch-site']),
      });
      if (access === 'allowed') return;
      // Host and Origin say who tried (a rebinding or cross-site page); never the Authorization.
      request.log.warn(
        {
          access,
          remoteAddress: request.raw.socket.remoteAddress,
          host: request.headers.host,
          origin: request.headers.origin,
        },
        'admin call refused',
      );
      if (access === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="simple-cache"');
      await sendAdminError(reply, access === 'unauthorized' ? ADMIN_ERRORS.unauthorized : ADMIN_ERRORS.forbidden);
    });
  },
  { name: 'simple-cache-admin-auth', fastify: '5.x' },
);
