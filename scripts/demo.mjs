#!/usr/bin/env node
// Starts the origin (port 8000) and the cache in front of it (port 8001) with the demo site,
// the cache configured by examples/simple-cache.yaml (its rules show on the demo site).
// Ctrl-C (or SIGTERM) stops both; if either exits, the other is stopped too.
// Both run compiled (packages/*/dist), as `pnpm --filter <name> start` runs them: built at install,
// rebuilt here first if a source changed since.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { buildIfStale, RUN_COMPILED } from './build.mjs';

const root = path.resolve(import.meta.dirname, '..');
const servers = [
  { name: 'main-server', args: process.env.MAIN_PORT ? [] : ['8000'] },
  {
    name: 'cache-server',
    args: [
      ...(process.env.CACHE_PORT ? [] : ['8001']),
      // The example config: negative caching of /favicon.ico, a bypassed folder, utm_* out of the key.
      ...(process.env.CACHE_CONFIG ? [] : ['--config', path.join(root, 'examples', 'simple-cache.yaml')]),
      // HTTPS and HTTP/2 on 8443 with a certificate made for localhost at first start (kept in the
      // cache directory): the browser asks once to accept it.
      ...(process.env.CACHE_TLS_CERT ? [] : ['--tls-cert', 'self-signed']),
    ],
  },
];

if (!buildIfStale()) process.exit(1);

const children = servers.map(({ name, args }) =>
  spawn(process.execPath, [...RUN_COMPILED, ...args], {
    cwd: path.join(root, 'packages', name),
    stdio: 'inherit',
  }),
);

let stopping = false;
function stopAll(signal) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill(signal);
}

let exitCode = 0;
let running = children.length;
for (const child of children) {
  child.on('exit', (code) => {
    if (code) exitCode = code;
    running -= 1;
    stopAll('SIGTERM');
    if (running === 0) process.exit(exitCode);
  });
}
process.on('SIGINT', () => stopAll('SIGINT'));
process.on('SIGTERM', () => stopAll('SIGTERM'));
console.log(
  'simple-cache demo: origin on http://localhost:8000, cache on http://localhost:8001 and https://localhost:8443 (HTTP/2, self-signed certificate), dashboard on http://localhost:8001/_cache/ (Ctrl-C stops both)',
);
