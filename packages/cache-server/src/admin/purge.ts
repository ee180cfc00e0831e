import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { cacheKey } from '../policy/keys.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';
import { isTruthy, queryList, queryParam, type AdminDeps } from './admin-deps.js';
import { purgeEntries, selectsFetch, type PurgeSelection } from './purge-entries.js';
import { resolveTarget } from './target.js';

/** Request header asking for a soft purge on any purge call (after Fastly's Fastly-Soft-Purge). */
export const SOFT_PURGE_HEADER = 'soft-purge';

/**
 * Purging, every kind behind `requireAdmin`:
 * - `PURGE /path?query` (the Varnish/Squid habit): that URL, every variant; `PURGE /dir/*`: every
 *   URL starting with `/dir/`;
 * - `DELETE <prefix>/entries?url=…` | `?prefix=…` | `?tag=…` | `?all=1`;
 * - soft (mark stale, keep) with `?soft=1` or `Soft-Purge: 1`.
 */
export const adminPurge = fp<AdminDeps>(
  async (app, deps) => {
    const { adminPrefix: prefix, origin } = deps.config;
    if (!app.supportedMethods.includes('PURGE')) app.addHttpMethod('PURGE');

    const purge = async (request: FastifyRequest, reply: FastifyReply, given: PurgeSelection, soft: boolean) => {
      // One URL is purged under the key the rules store it at (key: ignore-query, sort-query).
      const selection: PurgeSelection =
        given.kind === 'url'
          ? { kind: 'url', key: deps.live.current.rules.forRequest('GET', given.key).key(given.key) }
          : given;
      // This node's own copies go first (a hard purge): they are gone whatever happens to the store.
      const dropped = soft ? 0 : await (deps.dropLocalCopies?.(selection) ?? 0);
      // Fetches in flight bring what the origin had before the purge: nobody joins them any more,
      // and what they commit is removed again. A soft purge removes nothing, so they may still be
      // joined, but what they store is stored stale, as what the purge finds stored is made.
      const abandoned = soft
        ? await (deps.softenFetches?.(selection) ?? 0)
        : (deps.abandonFetches?.(selectsFetch(selection, deps.config.tagHeaders)) ?? 0);
      let result;
      try {
        result = await purgeEntries(deps.store, selection, {
          soft,
          now: Date.now(),
          policy: deps.policy,
          tagHeaders: deps.config.tagHeaders,
        });
      } catch (error) {
        if ((error as { code?: unknown }).code !== ADMIN_ERRORS.storeUnavailable.code) throw error;
        return refuseWhileUnavailable(
          request,
          reply,
          selection,
          dropped + (await (deps.dropLocalCopies?.(selection) ?? 0)),
          error,
        );
      }
      // A soft purge rewrites each entry, which the store announces by itself; a hard one may also
      // name copies the shared store no longer has (expired), which other nodes may still hold.
      if (!soft && deps.announcePurge) {
        await deps.announcePurge(selection).catch((err: unknown) => {
          request.log.warn({ err, selection }, 'purged, but the other nodes could not be told');
        });
      }
      const inFlight = abandoned > 0 ? { [soft ? 'softenedFetches' : 'abandonedFetches']: abandoned } : {};
      request.log.info({ selection, ...result, ...inFlight }, 'purged');
      return reply.send(result);
    };

    app.route({
      method: 'PURGE',
      url: '/*',
      config: { admin: true },
      preHandler: app.requireAdmin,
      handler: async (request, reply) => {
        const soft = isTruthy(request.headers[SOFT_PURGE_HEADER]);
        const target = request.url;
        const wildcard = /^[^?]*\*$/.test(target);
        const key = cacheKey(origin, wildcard ? target.slice(0, -1) : target);
        if (key === undefined) return sendAdminError(reply, ADMIN_ERRORS.badRequest, 'PURGE needs an origin-form path');
        return purge(request, reply, wildcard ? { kind: 'prefix', prefix: key } : { kind: 'url', key }, soft);
      },
    });

    app.delete(
      `${prefix}/entries`,
      { config: { admin: true }, preHandler: app.requireAdmin },
      async (request, reply) => {
        const soft = isTruthy(queryParam(request.query, 'soft')) || isTruthy(request.headers[SOFT_PURGE_HEADER]);
        const selection = selectionOf(request.query, origin);
        if (typeof selection === 'string') return sendAdminError(reply, ADMIN_ERRORS.badRequest, selection);
        return purge(request, reply, selection, soft);
      },
    );
  },
  { name: 'simple-cache-admin-purge', fastify: '5.x', dependencies: ['simple-cache-admin-auth'] },
);

/**
 * The shared store cannot be reached, so the purge cannot be done (nor announced to the other
 * nodes): 503, after this node's own memory copies of what it selects are dropped, so that
 * this node at least stops serving them; the answer says so.
 */
function refuseWhileUnavailable(
  request: FastifyRequest,
  reply: FastifyReply,
  selection: PurgeSelection,
  dropped: number,
  error: unknown,
): FastifyReply {
  request.log.warn({ selection, err: error, localCopiesDropped: dropped }, 'purge refused: the store is unavailable');
  const message =
    `${ADMIN_ERRORS.storeUnavailable.message} This node dropped its own memory copies of what the purge selects ` +
    `(${dropped}); other nodes keep theirs: repeat the purge once Redis is back.`;
  return sendAdminError(reply.header('retry-after', '1'), ADMIN_ERRORS.storeUnavailable, message, {
    local: { dropped },
  });
}

/** Exactly one of url, prefix, tag or all=1; else the message explaining what is wrong. */
export function selectionOf(query: unknown, origin: string): PurgeSelection | string {
  const url = queryParam(query, 'url');
  const prefix = queryParam(query, 'prefix');
  const tags = queryList(query, 'tag');
  const all = isTruthy(queryParam(query, 'all'));
  const given = [url !== undefined, prefix !== undefined, tags.length > 0, all].filter(Boolean).length;
  if (given !== 1) return 'give exactly one of url=…, prefix=…, tag=… or all=1';
  if (url !== undefined) {
    const key = resolveTarget(origin, url);
    return key === undefined ? `url "${url}" is not a path or an http(s) URL` : { kind: 'url', key };
  }
  if (prefix !== undefined) {
    const key = resolveTarget(origin, prefix);
    return key === undefined ? `prefix "${prefix}" is not a path or an http(s) URL` : { kind: 'prefix', prefix: key };
  }
  return tags.length > 0 ? { kind: 'tag', tags } : { kind: 'all' };
}
