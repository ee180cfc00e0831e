import fp from 'fastify-plugin';
import { toCacheError } from '../origin/origin-client.js';
import type { AdminDeps } from './admin-deps.js';
import { hasStartupWork, healthOf } from '../store/store.js';

/** How long one origin check is trusted: a busy load balancer polling /ready costs the origin at most 1 request/s. */
const ORIGIN_CHECK_TTL_MS = 1000;
const ORIGIN_CHECK_TIMEOUT_MS = 2000;

export interface OriginCheck {
  reachable: boolean;
  /** The origin's status when it answered; any status means reachable. */
  status?: number;
  error?: string;
  checkedAt: number;
}

/**
 * `<prefix>/health`: the process is up (liveness). `<prefix>/ready`: the store has loaded its
 * index and the origin answers a HEAD within 2 s (readiness); 503 otherwise, with the reason.
 * The store's health (degraded: since when, why) is in the body either way; a degraded store
 * fails readiness only with --ready-needs-store (by default the node still serves: from memory
 * and the origin, so taking it out of a load balancer would only shed capacity).
 */
export const adminHealth = fp<AdminDeps>(
  async (app, deps) => {
    const { adminPrefix: prefix } = deps.config;
    const storeLoaded = trackStoreLoaded(deps.store);
    const checkOrigin = cachedOriginCheck(deps);

    app.get(`${prefix}/health`, { config: { admin: true } }, async () => ({
      status: 'ok',
      uptimeSeconds: Math.round((Date.now() - deps.telemetry.startedAt) / 1000),
    }));

    app.get(`${prefix}/ready`, { config: { admin: true } }, async (_request, reply) => {
      const origin = await checkOrigin();
      const store = { loaded: storeLoaded(), health: healthOf(deps.store) };
      const storeReady = store.loaded && (!deps.config.readyNeedsStore || store.health.state === 'ok');
      const ready = storeReady && origin.reachable;
      return reply.code(ready ? 200 : 503).send({ ready, store, origin });
    });
  },
  { name: 'simple-cache-admin-health', fastify: '5.x' },
);

/** True once the store's start-up work is done (a store without `ready()` is ready at once). */
function trackStoreLoaded(store: AdminDeps['store']): () => boolean {
  if (!hasStartupWork(store)) return () => true;
  let loaded = false;
  store.ready().then(
    () => (loaded = true),
    () => (loaded = false),
  );
  return () => loaded;
}

/** One HEAD to the origin's base URL per second at most; concurrent callers share it. */
function cachedOriginCheck(deps: AdminDeps): () => Promise<OriginCheck> {
  let last: Promise<OriginCheck> | undefined;
  let lastAt = -Infinity;
  return () => {
    if (!last || performance.now() - lastAt > ORIGIN_CHECK_TTL_MS) {
      lastAt = performance.now();
      last = probeOrigin(deps);
    }
    return last;
  };
}

async function probeOrigin(deps: AdminDeps): Promise<OriginCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      ORIGIN_CHECK_TIMEOUT_MS,
    );
  });
  const pending = deps.origin.request({
    method: 'HEAD',
    url: `${deps.config.origin}/`,
    headers: { via: `1.1 ${deps.config.name}` },
  });
  // Drained whenever it arrives, even after the timeout, so the connection is released.
  pending.then((response) => response.body.resume()).catch(() => {});
  try {
    const response = await Promise.race([pending, timeout]);
    return { reachable: true, status: response.status, checkedAt: Date.now() };
  } catch (error) {
    return { reachable: false, error: toCacheError(error).code, checkedAt: Date.now() };
  } finally {
    clearTimeout(timer);
  }
}
