/**
 * Counts the requests that reach the origin, so tests and the demo can see whether the cache
 * answered (the count stays put) or forwarded (it grows).
 */
import { HEADER } from '@simple-cache/common';
import type { FastifyInstance } from 'fastify';

export const STATS_PATH = '/_origin/stats';

export interface RequestStats {
  total: number;
  byPath: Record<string, number>;
}

/**
 * Adds the counting hook and `GET /_origin/stats` to `app` itself (not to an encapsulated child),
 * so every route, the static files and the 404 handler are counted.
 */
export function registerRequestCount(app: FastifyInstance): void {
  let total = 0;
  const byPath = new Map<string, number>();

  app.addHook('onRequest', async (request, reply) => {
    const pathname = readPathname(request.url);
    // Reading the stats must not change them.
    if (pathname !== STATS_PATH) {
      total += 1;
      byPath.set(pathname, (byPath.get(pathname) ?? 0) + 1);
    }
    reply.header(HEADER.originRequestCount, String(total));
  });

  app.get(STATS_PATH, async (_request, reply) => {
    const stats: RequestStats = { total, byPath: Object.fromEntries(byPath) };
    return reply.header(HEADER.cacheControl, 'no-store').send(stats);
  });
}

function readPathname(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
