import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * `/files` → 301 `/files/` when `files` is a directory, as nginx and Apache do, so that every
 * directory has one URL (one cache key) and relative links inside it resolve. @fastify/static's
 * own `redirect` option cannot be used together with `list`: for a directory without a trailing
 * slash it sends the listing and then tries to redirect the already-sent reply.
 */
export function redirectDirectories(app: FastifyInstance, root: string, staticRoute: string): void {
  app.addHook('preHandler', async (request, reply) => {
    if (request.routeOptions.url !== staticRoute) return;
    const query = request.url.indexOf('?');
    const pathname = query === -1 ? request.url : request.url.slice(0, query);
    if (pathname.endsWith('/')) return;
    const directory = await findDirectory(root, pathname);
    if (directory) return reply.redirect(`${pathname}/${query === -1 ? '' : request.url.slice(query)}`, 301);
  });
}

async function findDirectory(root: string, pathname: string): Promise<boolean> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  const target = path.join(root, decoded);
  // Only look inside the root; what is outside is not ours to describe, even by a redirect.
  const relative = path.relative(root, target);
  if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) return false;
  const stats = await stat(target).catch(() => undefined);
  return stats?.isDirectory() ?? false;
}
