import { afterAll, afterEach, beforeAll, beforeEach } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import type { StoreUnderTest } from '../store/store-suite.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCache, tempDir, type StartedCache } from '../helpers/cache.js';
import { waitFor } from '../helpers/http.js';
import { startTestOrigin, type Route, type TestOrigin } from '../helpers/test-origin.js';

export const MAX_SIZE = 64 * 1024 * 1024;

/** A plain client to look at (and tamper with) what the store keeps. */
export function inspect(server: RedisServer): Redis {
  return new Redis(server.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** One command as Redis ran it (MONITOR): `source` is the client's address, or `lua` inside a script. */
export interface SeenCommand {
  readonly args: readonly string[];
  readonly source: string;
}

/**
 * Watches every command `server` runs (MONITOR). `settle()` sends a marker through another
 * connection and resolves, once the monitor has seen it, with every command run before it: one
 * a response waited for is among them however late the monitor's stream arrives on a loaded
 * machine. `stop()` ends the watch.
 */
export async function monitorCommands(server: RedisServer) {
  const monitor = await inspect(server).monitor();
  const seen: SeenCommand[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => seen.push({ args, source }));
  return {
    async settle(): Promise<SeenCommand[]> {
      const marker = `settle-${randomUUID()}`;
      const admin = inspect(server);
      try {
        await admin.echo(marker);
      } finally {
        admin.disconnect();
      }
      const isMarker = (command: SeenCommand) =>
        command.args[0]?.toLowerCase() === 'echo' && command.args[1] === marker;
      await waitFor(() => seen.some(isMarker), 'the monitor to see its marker');
      return seen.slice(0, seen.findIndex(isMarker));
    },
    stop: () => monitor.disconnect(),
  };
}

/**
 * The default policy without the disconnected grace (a day), so that TTLs in these tests are the
 * response's own windows; redis-store-lifetime.test.ts covers the grace.
 */
export const STORE_POLICY = { ...DEFAULT_POLICY_OPTIONS, disconnectedGrace: 0 };

export async function openRedisStore(
  server: Pick<RedisServer, 'url'>,
  options: Partial<RedisStoreOptions> = {},
): Promise<RedisStore> {
  return RedisStore.open({ url: server.url, maxSize: MAX_SIZE, policy: STORE_POLICY, ...options });
}

/** Body keys that no variant points at: what a failed or aborted write must not leave. */
export async function unreferencedBodies(redis: Redis): Promise<string[]> {
  const bodies = (await redis.keys('*:body:*')).filter((key) => !key.endsWith(':reading'));
  const referenced = new Set<string>();
  for (const metaKey of await redis.keys('*:meta')) {
    const hash = await redis.hgetall(metaKey);
    const prefix = metaKey.replace(/meta$/, 'body:');
    for (const [field, value] of Object.entries(hash)) if (field.startsWith('b:')) referenced.add(prefix + value);
  }
  return bodies.filter((key) => !referenced.has(key)).sort();
}

/** The contract suite's factory: a fresh store on an emptied server. */
export function makeRedisStoreFactory(server: () => RedisServer) {
  return async (options: { maxSize?: number } = {}): Promise<StoreUnderTest> => {
    const admin = inspect(server());
    await admin.flushall();
    const store = await openRedisStore(server(), { maxSize: options.maxSize ?? MAX_SIZE });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await admin.quit();
      },
      leftovers: () => unreferencedBodies(admin),
    };
  };
}

export interface RedisFixture {
  readonly server: RedisServer;
  /** A plain client on the server (see inspect()). */
  readonly admin: Redis;
  /** The current test's store (the same as nodeA). */
  readonly store: RedisStore;
  readonly nodeA: RedisStore;
  /** A second node on the same server; only with `nodes: 2`. */
  readonly nodeB: RedisStore;
  /** More nodes on the same server, opened with other options, closed after the test like the others. */
  open(count: number, options: Partial<RedisStoreOptions>): Promise<RedisStore[]>;
}

/**
 * One redis-server for the file, emptied before each test, with `nodes` fresh stores per test
 * (opened with `options`, closed after it). Call at the top of a file or describe block; read
 * the fields inside hooks and tests only.
 */
export function useRedis({ nodes = 1, options = {} }: { nodes?: 1 | 2; options?: Partial<RedisStoreOptions> } = {}) {
  let server: RedisServer | undefined;
  let admin: Redis | undefined;
  let stores: RedisStore[] = [];
  let extra: RedisStore[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
    admin = inspect(server);
  });
  afterAll(async () => {
    await admin?.quit();
    await server?.cleanup();
  });
  beforeEach(async () => {
    await admin!.flushall();
    stores = await Promise.all(Array.from({ length: nodes }, () => openRedisStore(server!, options)));
  });
  afterEach(async () => {
    await Promise.all([...stores, ...extra].map((store) => store.close()));
    stores = [];
    extra = [];
  });
  const opened = (index: number): RedisStore => {
    const store = stores[index];
    if (store === undefined) throw new Error(`useRedis: store ${index} is not open (outside a test, or nodes < 2)`);
    return store;
  };
  const fixture: RedisFixture = {
    get server() {
      if (server === undefined) throw new Error('useRedis: the server is not started yet');
      return server;
    },
    get admin() {
      if (admin === undefined) throw new Error('useRedis: the server is not started yet');
      return admin;
    },
    get store() {
      return opened(0);
    },
    get nodeA() {
      return opened(0);
    },
    get nodeB() {
      return opened(1);
    },
    async open(count, options) {
      const more = await Promise.all(Array.from({ length: count }, () => openRedisStore(fixture.server, options)));
      extra.push(...more);
      return more;
    },
  };
  return fixture;
}

export interface RedisNodes {
  readonly redis: RedisServer;
  /** A plain client on the server (see inspect()). */
  readonly admin: Redis;
  readonly origin: TestOrigin;
  /** Starts one more cache node on the server, closed after the file (by default with `--store` only). */
  start(extra?: Partial<CacheServerConfig>): Promise<StartedCache>;
  /** Two nodes at once (start() twice), as most of these files use them. */
  twoNodes(): Promise<{ nodeA: StartedCache; nodeB: StartedCache }>;
  /** A directory of its own for a node the test starts otherwise (a CLI process), removed after the file. */
  tempDir(): string;
}

/**
 * Cache nodes sharing one redis-server in front of one origin, as behind a load balancer: the
 * server and the origin start before the file's tests; nodes start when asked (several, and
 * more in a test: a node started after something happened) and everything stops after the file,
 * nodes first.
 */
export function useRedisNodes(routes: Record<string, Route>): RedisNodes {
  let redis: RedisServer | undefined;
  let admin: Redis | undefined;
  let origin: TestOrigin | undefined;
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const nodes: StartedCache[] = [];
  let startedNodes = 0;
  beforeAll(async () => {
    [redis, origin, dir] = await Promise.all([startRedisServer(), startTestOrigin(routes), tempDir()]);
    admin = inspect(redis);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    await origin?.close();
    admin?.disconnect();
    await redis?.cleanup();
    await dir?.cleanup();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useRedisNodes: Redis and the origin start in beforeAll');
    return value;
  };
  return {
    get redis() {
      return started(redis);
    },
    get admin() {
      return started(admin);
    },
    get origin() {
      return started(origin);
    },
    async start(extra = {}) {
      // Its own directory, also when several start at once.
      const node = await startCache(started(origin).url, `${started(dir).dir}/${startedNodes++}`, {
        store: `${started(redis).url}/0`,
        ...extra,
      });
      nodes.push(node);
      return node;
    },
    async twoNodes() {
      const [a, b] = await Promise.all([this.start(), this.start()]);
      return { nodeA: a, nodeB: b };
    },
    tempDir() {
      return `${started(dir).dir}/spare-${startedNodes++}`;
    },
  };
}
