import fp from 'fastify-plugin';
import { register } from 'prom-client';
import type { AdminDeps } from './admin-deps.js';

/** `<prefix>/metrics`: the Prometheus text exposition (names in the README). */
export const adminMetrics = fp<AdminDeps>(
  async (app, deps) => {
    app.get(`${deps.config.adminPrefix}/metrics`, { config: { admin: true } }, async (_request, reply) => {
      const text = await deps.telemetry.metrics();
      return reply.type(register.contentType).send(text);
    });
  },
  { name: 'simple-cache-admin-metrics', fastify: '5.x' },
);
