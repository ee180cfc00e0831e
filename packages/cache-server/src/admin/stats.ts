import type { EntryMeta } from '@simple-cache/common';
import fp from 'fastify-plugin';
import { intParam, queryParam, type AdminDeps } from './admin-deps.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';
import { ENTRY_SORTS, listEntries, summarizeEntry, type EntrySort } from './entry-listing.js';
import { readStoreStats } from './store-stats.js';
import { resolveTarget } from './target.js';
import { errorCountsOf, healthOf } from '../store/store.js';

const MAX_PAGE = 1000;

/**
 * `<prefix>/stats`: totals since start, the store's figures and the last minutes second by
 * second (`?history=<seconds>`, default 300, at most 600) for the dashboard's chart.
 * `<prefix>/entries`: stored variants, `?prefix=`, `?tag=`, `?sort=hits|size|age|recent|key`,
 * `?offset=`, `?limit=` (default 50, at most 1000).
 */
export const adminStats = fp<AdminDeps>(
  async (app, deps) => {
    const { adminPrefix: prefix, origin } = deps.config;

    app.get(`${prefix}/stats`, { config: { admin: true } }, async (request) => {
      const now = Date.now();
      const totals = deps.telemetry.totals();
      const store = readStoreStats(deps.store);
      return {
        name: deps.config.name,
        startedAt: deps.telemetry.startedAt,
        uptimeSeconds: Math.round((now - deps.telemetry.startedAt) / 1000),
        requests: {
          total: totals.requests,
          cacheable: totals.cacheable,
          fromCache: totals.fromCache,
          hitRatio: totals.cacheable === 0 ? null : totals.fromCache / totals.cacheable,
          byCacheStatus: totals.byCacheStatus,
          collapsed: totals.collapsed,
          clientAborts: totals.clientAborts,
          errors: totals.errors,
        },
        bytes: { fromCache: totals.bytesFromCache, fromOrigin: totals.bytesFromOrigin },
        origin: {
          url: origin,
          requests: totals.originRequests,
          errors: totals.originErrors,
          meanResponseMs: totals.originResponses === 0 ? null : (totals.originSeconds * 1000) / totals.originResponses,
          inFlight: deps.inFlight(),
        },
        store: {
          ...store,
          fill: store.maxSize > 0 ? store.size / store.maxSize : null,
          health: healthOf(deps.store),
          errors: errorCountsOf(deps.store),
        },
        auth: { tokenRequired: deps.config.adminToken !== '' },
        history: deps.telemetry.history.series(intParam(queryParam(request.query, 'history'), 300, 1, 600)),
      };
    });

    app.get(`${prefix}/entries`, { config: { admin: true } }, async (request, reply) => {
      const sort = queryParam(request.query, 'sort') ?? 'hits';
      if (!(ENTRY_SORTS as readonly string[]).includes(sort)) {
        return sendAdminError(reply, ADMIN_ERRORS.badRequest, `sort must be one of ${ENTRY_SORTS.join(', ')}`);
      }
      const prefixParam = queryParam(request.query, 'prefix');
      const keyPrefix = prefixParam === undefined ? undefined : resolveTarget(origin, prefixParam);
      if (prefixParam !== undefined && keyPrefix === undefined) {
        return sendAdminError(
          reply,
          ADMIN_ERRORS.badRequest,
          `prefix "${prefixParam}" is not a path or an http(s) URL`,
        );
      }
      const now = Date.now();
      const context = { origin, now, policy: deps.policy, tagHeaders: deps.config.tagHeaders };
      const all: EntryMeta[] = [];
      for await (const entry of deps.store.entries()) all.push(entry);
      const tag = queryParam(request.query, 'tag');
      return listEntries(
        all.map((entry) => summarizeEntry(entry, context)),
        {
          ...(keyPrefix !== undefined ? { prefix: keyPrefix } : {}),
          ...(tag !== undefined && tag !== '' ? { tag } : {}),
          sort: sort as EntrySort,
          offset: intParam(queryParam(request.query, 'offset'), 0, 0, Number.MAX_SAFE_INTEGER),
          limit: intParam(queryParam(request.query, 'limit'), 50, 1, MAX_PAGE),
        },
      );
    });
  },
  { name: 'simple-cache-admin-stats', fastify: '5.x' },
);
