import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import fp from 'fastify-plugin';
import type { AdminDeps } from './admin-deps.js';

/** The dashboard's files (HTML, CSS, JavaScript modules), served as they are: no build step. */
export const DASHBOARD_DIR = path.join(import.meta.dirname, 'dashboard');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** The page may only talk to this server: it loads nothing from elsewhere and sends nothing elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** `<prefix>/`: the live dashboard (admin/dashboard/*), every file read once at start. */
export const adminDashboard = fp<AdminDeps>(
  async (app, deps) => {
    for (const file of await readdir(DASHBOARD_DIR)) {
      const type = TYPES[path.extname(file)];
      if (type === undefined) continue;
      const body = await readFile(path.join(DASHBOARD_DIR, file));
      const url = `${deps.config.adminPrefix}/${file === 'index.html' ? '' : file}`;
      app.get(url, { config: { admin: true } }, async (_request, reply) =>
        reply.headers(SECURITY_HEADERS).type(type).send(body),
      );
    }
  },
  { name: 'simple-cache-admin-dashboard', fastify: '5.x' },
);
