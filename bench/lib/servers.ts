import path from 'node:path';
import { buildIfStale, RUN_COMPILED } from '../../scripts/build.mjs';
import { get, headerValue, waitForAnswer } from './http.js';
import { findFreePort, spawnServer, type Core, type Server } from './processes.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export type TargetId = 'ceiling' | 'origin' | 'nginx' | 'cache';

/** A server the scenarios measure, started by the harness. */
export interface Target {
  id: TargetId;
  label: string;
  /** Base URL without a trailing slash. */
  url: string;
  server: Server;
  /** The processes whose memory counts as this server's (nginx: its worker). */
  pids(): number[];
  stop(): Promise<void>;
}

export const LABELS: Record<TargetId, string> = {
  ceiling: 'bare node:http (ceiling)',
  origin: 'origin direct (main-server)',
  nginx: 'nginx proxy_cache, 1 worker',
  cache: 'simple-cache',
};

export function makeTarget(id: TargetId, url: string, server: Server, pids = () => [server.pid]): Target {
  return { id, label: LABELS[id], url, server, pids, stop: () => server.stop() };
}

let built = false;

/**
 * The compiled entry (`node --conditions=… dist/cli.js`) from the package folder, as `pnpm start`
 * runs it. The first call compiles if a source changed since the last build, so that no timed
 * spawn includes tsc and every server of a run is the same build.
 */
function spawnCompiled(
  name: string,
  pkg: string,
  args: readonly string[],
  logPath: string,
  env = process.env,
  core?: Core,
): Server {
  if (!built && !buildIfStale()) throw new Error('the servers do not compile (scripts/build.mjs)');
  built = true;
  const cwd = path.join(REPO_ROOT, 'packages', pkg);
  return spawnServer(name, process.execPath, [...RUN_COMPILED, ...args], {
    cwd,
    logPath,
    env,
    ...(core !== undefined ? { core } : {}),
  });
}

export interface OriginOptions {
  root: string;
  logPath: string;
  logLevel: string;
}

/** The real origin (main-server CLI) serving `root`, every file cacheable for a day. */
export async function startOrigin(opts: OriginOptions): Promise<Target> {
  const port = await findFreePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--root', opts.root, '--log-level', opts.logLevel];
  args.push('--cache-control', 'public, max-age=86400');
  const server = spawnCompiled('origin', 'main-server', args, opts.logPath);
  const url = `http://127.0.0.1:${port}`;
  await waitForAnswer(`${url}/_origin/stats`, server);
  return makeTarget('origin', url, server);
}

/** How many requests the origin has received for `pathname` (its /_origin/stats). */
export async function countOriginRequests(originUrl: string, pathname: string): Promise<number> {
  const answer = await fetch(`${originUrl}/_origin/stats`);
  const stats = (await answer.json()) as { byPath?: Record<string, number> };
  return stats.byPath?.[pathname] ?? 0;
}

export interface CacheOptions {
  origin: string;
  cacheDir: string;
  logPath: string;
  logLevel: string;
  maxSize: number;
  /** Largest body stored: at least the large-file scenario's. */
  maxObjectSize: number;
  /** More CACHE_… options, e.g. CACHE_STORE for the Redis scenario. */
  env?: Record<string, string>;
  /** The server core unless told otherwise ('any' for the workers scenario). */
  core?: Core;
}

/** Spawns the cache CLI without waiting (the start-up scenario times the wait itself). */
export async function spawnCache(opts: CacheOptions): Promise<{ server: Server; url: string }> {
  const port = await findFreePort();
  const args = ['--port', String(port), '--host', '127.0.0.1', '--origin', opts.origin, '--cache-dir', opts.cacheDir];
  args.push('--max-size', String(opts.maxSize), '--log-level', opts.logLevel);
  // Through the environment: a cache that does not have this option ignores the variable. No
  // access log unless the scenario asks (nginx's peer runs with `access_log off`).
  const env = {
    ...process.env,
    CACHE_MAX_OBJECT_SIZE: String(opts.maxObjectSize),
    CACHE_ACCESS_LOG: 'off',
    ...opts.env,
  };
  const server = spawnCompiled('cache', 'cache-server', args, opts.logPath, env, opts.core);
  return { server, url: `http://127.0.0.1:${port}` };
}

/** Spawns the cache and waits until it answers (any status: a 404 from the origin is fine). */
export async function startCache(opts: CacheOptions): Promise<Target> {
  const { server, url } = await spawnCache(opts);
  await waitForAnswer(`${url}/_bench/ready`, server);
  return makeTarget('cache', url, server);
}

/** Requests `pathname` through a cache until it is stored: the second answer must be a HIT. */
export async function primeCache(
  target: Target,
  pathname: string,
  alreadyFetched = false,
  headers: Record<string, string> = {},
): Promise<void> {
  if (!alreadyFetched) {
    const first = await get(`${target.url}${pathname}`, headers);
    if (first.status !== 200) throw new Error(`${target.label} ${pathname}: status ${first.status}`);
  }
  // The entry becomes visible when its write commits, just after the last byte went out; HEAD
  // asks without moving the body again.
  // A large body is fsynced before it commits, which a busy disk can take a while to do.
  const deadline = performance.now() + 60_000;
  let last = '';
  while (performance.now() < deadline) {
    // only-if-cached keeps the probe from starting a second origin fetch before the commit.
    const probe = target.id === 'cache' ? { 'cache-control': 'only-if-cached' } : {};
    const again = await get(`${target.url}${pathname}`, probe, 30_000, 'HEAD');
    if (String(again.headers['x-cache']).toUpperCase() === 'HIT') return;
    last = `${again.status} ${headerValue(again, 'cache-status') ?? headerValue(again, 'x-cache') ?? ''}`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${target.label} ${pathname}: no X-Cache: HIT within 60 s (last answer: ${last})`);
}
