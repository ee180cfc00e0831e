import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIPv4 } from 'node:net';
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
 * Who may change the cache (purge). With a token configured: whoever sends
 * `Authorization: Bearer <token>`, from anywhere. Without one: loopback clients only, judged by
 * the socket's own peer address: no X-Forwarded-For or other header a client can write counts.
 */
export function decideAdminAccess(input: {
  token: string;
  authorization: string | undefined;
  remoteAddress: string | undefined;
}): AdminAccess {
  if (input.token === '') return isLoopbackAddress(input.remoteAddress) ? 'allowed' : 'forbidden';
  const presented = /^Bearer +(\S+) *$/i.exec(input.authorization ?? '')?.[1];
  return presented !== undefined && sameSecret(presented, input.token) ? 'allowed' : 'unauthorized';
}

/** Constant-time comparison (hashes first, so lengths leak nothing either). */
function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Decorates `requireAdmin`, the preHandler every state-changing admin route uses. */
export const adminAuth = fp<{ token: string }>(
  async (app, { token }) => {
    app.decorate('requireAdmin', async function requireAdmin(request: FastifyRequest, reply: FastifyReply) {
      const access = decideAdminAccess({
        token,
        authorization: request.headers.authorization,
        remoteAddress: request.raw.socket.remoteAddress,
      });
      if (access === 'allowed') return;
      request.log.warn({ access, remoteAddress: request.raw.socket.remoteAddress }, 'admin call refused');
      if (access === 'unauthorized') reply.header('www-authenticate', 'Bearer realm="simple-cache"');
      await sendAdminError(reply, access === 'unauthorized' ? ADMIN_ERRORS.unauthorized : ADMIN_ERRORS.forbidden);
    });
  },
  { name: 'simple-cache-admin-auth', fastify: '5.x' },
);
