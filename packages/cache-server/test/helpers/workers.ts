import { afterAll, beforeAll, expect } from '@jest/globals';
import http from 'node:http';
import { tempDir } from './cache.js';
import { request, waitFor, type Reply } from './http.js';
import { spawnCli, type Spawned } from './spawn.js';
import { startTestOrigin, type Route, type TestOrigin } from './test-origin.js';

/** A cache CLI started with `--workers N`: the primary and its workers, on one port. */
export interface WorkersCli {
  spawned: Spawned;
  url: string;
  /** The primary's pid. */
  pid: number;
  /** SIGTERM, and waits for the exit code. */
  stop(): Promise<number | null>;
}

export interface WorkerInfo {
  slot: number;
  pid: number;
  restarts: number;
  forkedAt: number;
  listening: boolean;
}

/**
 * Starts the cache CLI (from its sources) with `--workers <workers>` on a free port and waits
 * until the primary says every worker listens.
 */
export async function startWorkersCli(
  args: string[],
  workers = 2,
  env: Record<string, string> = {},
): Promise<WorkersCli> {
  const spawned = spawnCli(
    ['--workers', String(workers), '--port', '0', '--host', '127.0.0.1', '--log-level', 'info', ...args],
    env,
  );
  const url = await spawned.listening();
  // `cache-server ready`, then with TLS `; HTTPS (HTTP/2) at …`.
  await waitFor(() => spawned.stdout().includes('"msg":"cache-server ready'), 'the primary to be ready', 30_000);
  return {
    spawned,
    url,
    pid: spawned.child.pid ?? 0,
    stop: async () => {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill('SIGTERM');
      return spawned.exited;
    },
  };
}

/** A keep-alive connection to one worker: every request on it is that worker's. */
export interface WorkerConnection {
  slot: number;
  pid: number;
  port: number;
  agent: http.Agent;
  get(path: string, headers?: http.OutgoingHttpHeaders, method?: string): Promise<Reply>;
  close(): void;
}

/**
 * One keep-alive connection per worker. The kernel hands each new connection to whichever
 * worker accepts it first, so connections are opened until every worker has one (each asks
 * `<prefix>/workers`, whose answer names the worker that forwarded it); the others are closed.
 */
export async function connectToEachWorker(url: string, workers = 2, prefix = '/_cache'): Promise<WorkerConnection[]> {
  const found = new Map<number, WorkerConnection>();
  for (let attempt = 0; found.size < workers; attempt++) {
    if (attempt > 500) throw new Error(`could not reach ${workers} distinct workers in 500 connections`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const connection = connectionOn(url, agent);
    const answer = await connection.get(`${prefix}/workers`);
    const by = (JSON.parse(answer.body.toString()) as { answeredBy: WorkerInfo | null }).answeredBy;
    if (by && !found.has(by.slot)) found.set(by.slot, { ...connection, slot: by.slot, pid: by.pid });
    else agent.destroy();
  }
  return [...found.values()].sort((a, b) => a.slot - b.slot);
}

function connectionOn(base: string, agent: http.Agent): Omit<WorkerConnection, 'slot' | 'pid'> {
  const url = new URL(base);
  return {
    port: Number(url.port),
    agent,
    close: () => agent.destroy(),
    get: (path, headers = {}, method = 'GET') => request(base, path, { method, headers, agent }),
  };
}

/** The workers the primary lists now. */
export async function listWorkers(url: string, prefix = '/_cache'): Promise<WorkerInfo[]> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const answer = await connectionOn(url, agent).get(`${prefix}/workers`);
    return (JSON.parse(answer.body.toString()) as { workers: WorkerInfo[] }).workers;
  } finally {
    agent.destroy();
  }
}

/** Keys a worker is fetching for all of them, and misses of other workers waiting on those. */
export async function collapseState(url: string, prefix = '/_cache'): Promise<{ locks: number; waiting: number }> {
  const agent = new http.Agent({ keepAlive: false });
  try {
    const answer = await connectionOn(url, agent).get(`${prefix}/workers`);
    return (JSON.parse(answer.body.toString()) as { collapse: { locks: number; waiting: number } }).collapse;
  } finally {
    agent.destroy();
  }
}

/**
 * The entry becomes visible when its write commits, just after the last byte went out: asks
 * with `only-if-cached` (which never starts a fetch) until the stored answer comes.
 */
export async function untilStored(connection: WorkerConnection, path: string, timeoutMs = 10_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await connection.get(path, { 'cache-control': 'only-if-cached' });
    if (answer.status !== 504) return answer;
    if (Date.now() > deadline) throw new Error(`${path} was not stored within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface TwoWorkers {
  readonly origin: TestOrigin;
  readonly cli: WorkersCli;
  /** The cache directory. */
  readonly dir: string;
  /** A connection to each worker. */
  readonly one: WorkerConnection;
  readonly two: WorkerConnection;
}

/**
 * For a describe block: an origin answering `routes`, the cache CLI with `--workers 2` in front
 * of it (in a directory of its own, with `args()` more options) and one connection to each
 * worker; all stopped after the block, the CLI expected to exit 0.
 */
export function useTwoWorkers(
  routes: Record<string, Route>,
  args: () => string[] | Promise<string[]> = () => [],
): TwoWorkers {
  const state: {
    origin?: TestOrigin;
    cli?: WorkersCli;
    dir?: Awaited<ReturnType<typeof tempDir>>;
    connections?: WorkerConnection[];
  } = {};
  beforeAll(async () => {
    state.origin = await startTestOrigin(routes);
    state.dir = await tempDir();
    state.cli = await startWorkersCli(['--origin', state.origin.url, '--cache-dir', state.dir.dir, ...(await args())]);
    state.connections = await connectToEachWorker(state.cli.url);
  });
  afterAll(async () => {
    for (const connection of state.connections ?? []) connection.close();
    if (state.cli) expect(await state.cli.stop()).toBe(0);
    await state.origin?.close();
    await state.dir?.cleanup();
  });
  const get = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the workers start in beforeAll');
    return value;
  };
  return {
    get origin() {
      return get(state.origin);
    },
    get cli() {
      return get(state.cli);
    },
    get dir() {
      return get(state.dir).dir;
    },
    get one() {
      return get(state.connections?.[0]);
    },
    get two() {
      return get(state.connections?.[1]);
    },
  };
}

/**
 * Until the store holds `count` entries (a commit lands just after the response's last byte):
 * asks the stats endpoint, which, unlike a request for the entry, does not use it.
 */
export async function untilEntries(connection: WorkerConnection, count: number): Promise<void> {
  await waitFor(async () => {
    const stats = JSON.parse((await connection.get('/_cache/stats')).body.toString()) as { store: { entries: number } };
    return stats.store.entries >= count;
  }, `${count} stored entries`);
}
