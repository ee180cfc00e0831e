import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-url.js';

/** A single server or a cluster: both speak every command the store uses. */
export type RedisClient = Redis | Cluster;

/** What `rediss://` connections present and check, beyond the system's CAs (PEM contents). */
export interface TlsSettings {
  /** CA certificates to trust (a private CA, a self-signed server). */
  ca?: Buffer;
  /** A client certificate and its key, for servers that ask for one (`tls-auth-clients yes`). */
  cert?: Buffer;
  key?: Buffer;
  /** The name the server's certificate must carry, when it is not the host connected to. */
  servername?: string;
}

export interface ConnectionOptions {
  /** How long a connection attempt may take before it counts as failed. */
  connectTimeoutMs?: number;
  /** For rediss:// (and rediss-sentinel://); an error for a plain connection. */
  tls?: TlsSettings;
  /**
   * ioredis's own reply timeout, a backstop behind the gate's (redis-gate.ts), which fails a
   * call sooner and counts it towards the circuit breaker.
   */
  commandTimeoutMs?: number;
}

export const DEFAULT_CONNECTION_OPTIONS = {
  connectTimeoutMs: 1_000,
  commandTimeoutMs: 10_000,
};

/**
 * Fail fast, heal by itself. A cache must answer from memory or the origin when Redis is away,
 * so no command may wait for a connection: the offline queue is off (a command sent while
 * disconnected rejects at once), a command caught by a disconnect is retried at most once, and
 * connecting and replies have short timeouts. ioredis keeps reconnecting in the background
 * (backing off up to 2 s), so the store works again as soon as Redis is back.
 */
function failFastOptions(options: typeof DEFAULT_CONNECTION_OPTIONS): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    enableReadyCheck: true,
  };
}

function serverOptions(target: RedisTarget, tls: TlsSettings | undefined): RedisOptions {
  if (tls !== undefined && !target.tls) {
    throw new Error('Redis TLS options (CA, client certificate, servername) need a rediss:// store URL');
  }
  const options: RedisOptions = { db: target.db };
  if (target.tls) options.tls = { ...tls };
  if (target.username !== undefined) options.username = target.username;
  if (target.password !== undefined) options.password = target.password;
  return options;
}

/**
 * A client for commands. `subscriber: true` makes one for pub/sub instead: that connection may
 * queue its SUBSCRIBE until connected, and resubscribes after a reconnect.
 */
export function createRedisClient(
  target: RedisTarget,
  options: ConnectionOptions = {},
  role: 'commands' | 'subscriber' = 'commands',
): RedisClient {
  const resolved = {
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECTION_OPTIONS.connectTimeoutMs,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_CONNECTION_OPTIONS.commandTimeoutMs,
  };
  const redisOptions: RedisOptions = {
    ...failFastOptions(resolved),
    ...serverOptions(target, options.tls),
    ...(role === 'subscriber' ? { enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true } : {}),
  };
  if (target.mode === 'single') {
    const [node] = target.nodes;
    return new Redis({ ...redisOptions, host: node!.host, port: node!.port });
  }
  if (target.mode === 'sentinel') {
    // ioredis asks the sentinels for the master, follows a failover (+switch-master), and a
    // READONLY reply (a demoted master) makes it reconnect and ask again.
    return new Redis({
      ...redisOptions,
      sentinels: target.nodes,
      name: target.masterName!,
      failoverDetector: true,
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      ...(target.tls ? { enableTLSForSentinelMode: true, sentinelTLS: { ...options.tls } } : {}),
    });
  }
  const clusterOptions: ClusterOptions = {
    redisOptions,
    enableOfflineQueue: redisOptions.enableOfflineQueue ?? false,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, 2_000),
    scaleReads: 'master',
  };
  return new Cluster(target.nodes, clusterOptions);
}

/** Clients being closed on purpose: their 'close' is no outage. */
const closing = new WeakSet<RedisClient>();

/** True once closeClient() was called for `client`. */
export function isClosing(client: RedisClient): boolean {
  return closing.has(client);
}

/**
 * Keeps a client's 'error' events from being unhandled: ioredis emits one on every failed
 * reconnection attempt while Redis is down. Whoever cares (the gate, for the command client)
 * listens for the outage itself and logs it once.
 */
export function swallowErrors(client: RedisClient): void {
  client.on('error', () => undefined);
}

/**
 * Resolves when the client is ready, or after its first failure (then the store starts anyway
 * and the client keeps reconnecting): a cache must start even while Redis is down.
 */
export function waitUntilReady(client: RedisClient): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => settle(true);
    const onError = () => settle(false);
    const settle = (ready: boolean) => {
      client.off('ready', onReady);
      client.off('error', onError);
      resolve(ready);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** Closes politely when connected, at once otherwise (QUIT would wait for a reconnect). */
export async function closeClient(client: RedisClient): Promise<void> {
  closing.add(client);
  if (client.status === 'ready') await client.quit().catch(() => undefined);
  // Also after QUIT: with Sentinel, ioredis's failover detector keeps connections to every
  // sentinel, which only disconnect() closes (they would keep the process alive).
  client.disconnect();
}

/** Every master a SCAN must visit: the server itself, or each master of a cluster. */
export function masterNodes(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** `host:port`, as ioredis names cluster nodes in its slot map. */
export function nameOf(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/**
 * The masters that own data, by name, whether or not a connection to them is up (ioredis drops
 * the connection of a master that died, not its slots); and the connections there are.
 */
export function dataMasters(client: RedisClient): { names: string[]; nodes: Redis[] } {
  const nodes = masterNodes(client);
  if (!(client instanceof Cluster)) return { names: nodes.map(nameOf), nodes };
  const owners = new Set<string>();
  for (const owner of client.slots) if (owner?.[0] !== undefined) owners.add(owner[0]);
  return { names: owners.size > 0 ? [...owners] : nodes.map(nameOf), nodes };
}
