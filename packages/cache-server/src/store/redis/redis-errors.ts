/**
 * What went wrong with a Redis call, as a small fixed set of kinds: the label of the
 * `simple_cache_store_errors_total{kind}` counter, and whether the failure says the server is
 * unavailable (it counts towards opening the circuit breaker) or only that this one call failed.
 */
export const REDIS_ERROR_KINDS = {
  /** No reply within --redis-timeout (a hung or overloaded server). */
  timeout: true,
  /** No connection: refused, reset, closed, not yet reconnected. */
  connection: true,
  /** CLUSTERDOWN, TRYAGAIN, or no slot owner reachable. */
  'cluster-down': true,
  /** LOADING: the server is loading its dataset after a restart. */
  loading: true,
  /** BUSY: a script runs too long on the server. */
  busy: true,
  /** READONLY / MASTERDOWN: a replica, or a master that lost its own (failover under way). */
  readonly: true,
  /** NOAUTH, WRONGPASS, NOPERM: the server refuses this client. */
  auth: true,
  /** OOM: maxmemory reached with a policy that evicts nothing; reads still work. */
  oom: false,
  /** Any other error reply (a bug, a server too old for a command). */
  other: false,
  /** Refused without asking Redis: the breaker is open. */
  unavailable: false,
} as const satisfies Record<string, boolean>;

export type RedisErrorKind = keyof typeof REDIS_ERROR_KINDS;

/** Raised by the gate when a call gets no reply in time. */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
  readonly code = 'REDIS_TIMEOUT';
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

const REPLY_PREFIXES: [string, RedisErrorKind][] = [
  ['CLUSTERDOWN', 'cluster-down'],
  ['TRYAGAIN', 'cluster-down'],
  ['LOADING', 'loading'],
  ['BUSY', 'busy'],
  ['READONLY', 'readonly'],
  ['MASTERDOWN', 'readonly'],
  ['NOAUTH', 'auth'],
  ['WRONGPASS', 'auth'],
  ['NOPERM', 'auth'],
  ['OOM', 'oom'],
];

export function classifyRedisError(error: unknown): RedisErrorKind {
  if (error instanceof RedisTimeoutError) return 'timeout';
  if (!(error instanceof Error)) return 'other';
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return 'connection';
  const message = error.message;
  for (const [prefix, kind] of REPLY_PREFIXES) if (message.startsWith(prefix)) return kind;
  // ioredis's own: offline queue off, connection lost mid-command, no cluster node reachable.
  if (
    /Stream isn't writeable|Connection is closed|max retries per request|None of startup nodes|Command timed out/i.test(
      message,
    )
  ) {
    return /timed out/i.test(message) ? 'timeout' : 'connection';
  }
  if (/Failed to refresh slots cache|Too many Cluster redirections|cluster is down/i.test(message)) {
    return 'cluster-down';
  }
  return 'other';
}

/** Whether a failure of this kind says the server is unavailable (not just this call wrong). */
export function signalsOutage(kind: RedisErrorKind): boolean {
  return REDIS_ERROR_KINDS[kind];
}
