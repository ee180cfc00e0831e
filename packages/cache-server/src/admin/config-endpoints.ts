import fp from 'fastify-plugin';
import { Counter, Gauge, type Registry } from 'prom-client';
import { configView } from '../config/file/index.js';
import { OPTIONS } from '../config/option-table.js';
import type { LiveConfig, ReloadResult } from '../live-config.js';
import type { AdminDeps } from './admin-deps.js';
import { ADMIN_ERRORS, sendAdminError } from './admin-errors.js';

/**
 * `GET <prefix>/config`: the config in force (secrets redacted), where it came from, its hash and
 * when it was loaded. `POST <prefix>/config/reload` (admin access, as purges): re-reads the config
 * file as SIGHUP does; 200 with what changed, or 400 with the file's errors (the running config
 * stays).
 */
export const adminConfig = fp<AdminDeps>(
  async (app, deps) => {
    const prefix = deps.config.adminPrefix;
    app.get(`${prefix}/config`, { config: { admin: true } }, async () => {
      const active = deps.live.current;
      return {
        file: active.config.configFile === '' ? null : active.config.configFile,
        hash: active.fileHash ?? null,
        loadedAt: new Date(active.loadedAt).toISOString(),
        config: configView(OPTIONS, active.config),
      };
    });
    app.post(
      `${prefix}/config/reload`,
      { config: { admin: true }, preHandler: app.requireAdmin },
      async (_request, reply) => {
        const result = deps.live.reload();
        if (!result.ok) return sendAdminError(reply, ADMIN_ERRORS.badConfig, result.error);
        const { fileHash, loadedAt, applied, needsRestart } = result;
        return {
          reloaded: true,
          hash: fileHash ?? null,
          loadedAt: new Date(loadedAt).toISOString(),
          applied,
          needsRestart,
        };
      },
    );
  },
  { name: 'simple-cache-admin-config', fastify: '5.x' },
);

/** `simple_cache_config_reloads_total{result}` and the time of the config in force. */
export function createReloadMetrics(registry: Registry, live: () => LiveConfig): (result: ReloadResult) => void {
  const reloads = new Counter({
    name: 'simple_cache_config_reloads_total',
    help: 'Config reloads (SIGHUP, POST <admin>/config/reload), by result: ok (swapped in) or invalid (running config kept).',
    labelNames: ['result'],
    registers: [registry],
  });
  // Both results are listed from the start, so a rate() over them works before the first reload.
  reloads.inc({ result: 'ok' }, 0);
  reloads.inc({ result: 'invalid' }, 0);
  new Gauge({
    name: 'simple_cache_config_loaded_timestamp_seconds',
    help: 'When the config in force was loaded (start-up or the last successful reload), Unix seconds.',
    registers: [registry],
    collect() {
      this.set(live().current.loadedAt / 1000);
    },
  });
  return (result) => reloads.inc({ result: result.ok ? 'ok' : 'invalid' });
}
