import fp from 'fastify-plugin';
import type { AdminDeps } from './admin-deps.js';
import { adminAuth } from './auth.js';
import { adminConfig } from './config-endpoints.js';
import { adminDashboard } from './dashboard.js';
import { adminExplain } from './explain.js';
import { adminHealth } from './health.js';
import { adminMetrics } from './metrics.js';
import { adminPrefix } from './prefix.js';
import { adminPurge } from './purge.js';
import { adminStats } from './stats.js';

export type { AdminDeps } from './admin-deps.js';
export { createTelemetry, type Telemetry } from './telemetry.js';

/**
 * Everything under `--admin-prefix` (and `PURGE`), one plugin per concern. Register it before the
 * proxy's catch-all route: the prefix guard must see every request.
 */
export const adminPlugin = fp<AdminDeps>(
  async (app, deps) => {
    await app.register(adminPrefix, { prefix: deps.config.adminPrefix });
    await app.register(adminAuth, { token: deps.config.adminToken });
    await app.register(adminPurge, deps);
    await app.register(adminMetrics, deps);
    await app.register(adminHealth, deps);
    await app.register(adminStats, deps);
    await app.register(adminExplain, deps);
    await app.register(adminDashboard, deps);
    await app.register(adminConfig, deps);
  },
  { name: 'simple-cache-admin', fastify: '5.x' },
);
