import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { StoreHealth } from '../store.js';
import { StoreError } from '../store-errors.js';
import { Breaker, DEFAULT_BREAKER_OPTIONS, type BreakerOptions } from './breaker.js';
import { classifyRedisError, RedisTimeoutError, signalsOutage, type RedisErrorKind } from './redis-errors.js';
import { dataMasters, nameOf, type RedisClient } from './redis-connection.js';

/**
 * Where a call goes, for the breaker that guards it: a Redis key (the master owning its slot),
 * one server of a cluster, or undefined (the server; in a cluster, any master: no breaker).
 */
export type Route = string | Redis | undefined;

export interface GateOptions {
  /** How long a call may wait for its reply; then it fails (and counts towards the breaker). */
  timeoutMs: number;
  /** How often an open breaker asks its server whether it answers again. */
  probeMs: number;
  breaker?: BreakerOptions;
}

export const DEFAULT_GATE_OPTIONS: GateOptions = { timeoutMs: 1_000, probeMs: 1_000 };

/**
 * What a call rejects with when Redis cannot serve it (refused while its breaker is open, no
 * reply in time, no connection): CACHE_ERR_STORE_UNAVAILABLE, with the server and the kind.
 * Other failures (an error reply such as OOM) reject with Redis's own error.
 */
export class RedisUnavailableError extends StoreError {
  constructor(
    readonly node: string,
    readonly kind: RedisErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('CACHE_ERR_STORE_UNAVAILABLE', message, options);
  }
}

type Cancel = (error: Error) => void;

/**
 * Every call the Redis store makes goes through here: it fails at once while the server it
 * needs is known to be unavailable, gives up on a reply after `timeoutMs`, counts errors by kind,
 * and keeps one circuit breaker per server — the single server, or each cluster master, so that
 * one dead master only fails the keys in its slots. An open breaker is probed in the background
 * (PING) and closes as soon as its server answers; one error line when it opens, one info line
 * when it closes.
 */
export class RedisGate {
  private readonly breakers = new Map<string, Breaker>();
  private readonly pending = new Map<Breaker, Set<Cancel>>();
  private readonly errors: Partial<Record<RedisErrorKind, number>> = {};
  private readonly options: Required<GateOptions>;
  private probing: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    /** The server (or the cluster's seed nodes), for logs: never a password. */
    private readonly where: string,
    private readonly logger: Logger,
    options: Partial<GateOptions> = {},
  ) {
    this.options = { breaker: DEFAULT_BREAKER_OPTIONS, ...DEFAULT_GATE_OPTIONS, ...options };
    if (client instanceof Cluster) {
      client.on('node error', (error: unknown, address: unknown) => {
        // Reconnection attempts, not calls: they count towards the node's breaker, not the error counters.
        if (typeof address === 'string') this.fail(this.breakerNamed(address), error, false);
      });
    } else {
      // A closed connection is an outage now, not after a few calls have failed on it.
      client.on('close', () => {
        if (!this.closed) this.openBreaker(this.breakerNamed(where), 'connection', 'the connection closed');
      });
      client.on('ready', () => this.probeSoon(0));
    }
  }

  /** Runs `call` for `route`; rejects at once while the breaker of that route is open. */
  run<T>(route: Route, call: () => Promise<T>): Promise<T> {
    const breaker = this.breakerFor(route);
    if (breaker?.isOpen) {
      this.count('unavailable');
      return Promise.reject(this.unavailable(breaker));
    }
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        clearTimeout(timer);
        if (breaker) this.pending.get(breaker)?.delete(cancel);
      };
      const cancel: Cancel = (error) => {
        if (done) return;
        finish();
        this.count('unavailable');
        reject(error);
      };
      // On expiry, a reply that arrived while the event loop was busy still wins: the
      // rejection waits for the loop's I/O phase (setImmediate runs after it).
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (done) return;
            finish();
            const error = new RedisTimeoutError(`no reply from Redis within ${this.options.timeoutMs} ms`);
            reject(this.fail(breaker, error));
          }),
        this.options.timeoutMs,
      );
      if (breaker) this.pendingOf(breaker).add(cancel);
      call().then(
        (value) => {
          if (done) return;
          finish();
          breaker?.recordSuccess();
          resolve(value);
        },
        (error: unknown) => {
          if (done) return;
          finish();
          reject(this.fail(breaker, error));
        },
      );
    });
  }

  /** Whether calls for `route` are let through now (writes are refused up front otherwise). */
  isAvailable(route: Route): boolean {
    return !this.breakerFor(route)?.isOpen;
  }

  /** Errors so far, by kind (refusals while open are `unavailable`). */
  errorCounts(): Readonly<Partial<Record<RedisErrorKind, number>>> {
    return { ...this.errors };
  }

  /** ok, or degraded while any breaker is open (partial: only some masters of a cluster). */
  health(): StoreHealth {
    const open = [...this.breakers.values()].filter((breaker) => breaker.isOpen);
    if (open.length === 0) return { state: 'ok' };
    const parts = open
      .map((breaker) => {
        const trip = breaker.opened!;
        return { name: breaker.node, since: trip.since, code: codeOf(trip.kind), message: trip.message };
      })
      .sort((a, b) => a.since - b.since);
    const first = parts[0]!;
    if (!(this.client instanceof Cluster)) {
      return { state: 'degraded', since: first.since, code: first.code, message: describeOutage(first) };
    }
    const masters = Math.max(dataMasters(this.client).names.length, open.length);
    const partial = open.length < masters;
    const names = parts.map((part) => `${part.name} (${part.code})`).join(', ');
    return {
      state: 'degraded',
      since: first.since,
      code: first.code,
      message: `${open.length} of ${masters} Redis masters unavailable: ${names}; keys in their slots are served from memory and the origin`,
      partial,
      parts,
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probing);
  }

  private breakerFor(route: Route): Breaker | undefined {
    const { client } = this;
    if (!(client instanceof Cluster)) return this.breakerNamed(this.where);
    if (route === undefined) return undefined;
    if (typeof route !== 'string') return this.breakerNamed(nameOf(route));
    const owner = client.slots[calculateSlot(route)]?.[0];
    // No slot map yet (never connected): one breaker for the whole cluster until there is one.
    return this.breakerNamed(owner ?? this.where);
  }

  private breakerNamed(node: string): Breaker {
    let breaker = this.breakers.get(node);
    if (breaker === undefined) {
      breaker = new Breaker(node, this.options.breaker);
      this.breakers.set(node, breaker);
    }
    return breaker;
  }

  private pendingOf(breaker: Breaker): Set<Cancel> {
    let set = this.pending.get(breaker);
    if (set === undefined) this.pending.set(breaker, (set = new Set()));
    return set;
  }

  /** Counts a failure (towards the breaker too, if it says the server is away); returns what to reject with. */
  private fail(breaker: Breaker | undefined, error: unknown, counted = true): Error {
    const kind = classifyRedisError(error);
    if (counted) this.count(kind);
    const message = error instanceof Error ? error.message : String(error);
    if (!signalsOutage(kind)) return error instanceof Error ? error : new Error(message);
    if (!this.closed && breaker?.recordFailure(Date.now(), kind, message)) this.opened(breaker, error);
    const node = breaker?.node ?? this.where;
    return new RedisUnavailableError(node, kind, `Redis ${node}: ${message}`, { cause: error });
  }

  private openBreaker(breaker: Breaker, kind: RedisErrorKind, message: string): void {
    if (breaker.open(Date.now(), kind, message)) this.opened(breaker, undefined);
  }

  /** Calls waiting on the server fail now, not when each times out; probing starts. */
  private opened(breaker: Breaker, error: unknown): void {
    const trip = breaker.opened!;
    this.logger.error(
      { err: error, redis: breaker.node, kind: trip.kind },
      `Redis ${breaker.node} is unavailable (${trip.kind}): store calls for it fail fast (served from memory and the origin) until it answers a probe`,
    );
    const refusal = this.unavailable(breaker);
    for (const cancel of [...this.pendingOf(breaker)]) cancel(refusal);
    this.probeSoon(this.options.probeMs);
  }

  private probeSoon(delayMs: number): void {
    if (this.closed || this.probing !== undefined) return;
    this.probing = setTimeout(() => {
      this.probing = undefined;
      void this.probeAll();
    }, delayMs);
    this.probing.unref();
  }

  private async probeAll(): Promise<void> {
    const open = [...this.breakers.values()].filter((breaker) => breaker.isOpen);
    await Promise.all(open.map((breaker) => this.probe(breaker)));
    if ([...this.breakers.values()].some((breaker) => breaker.isOpen)) this.probeSoon(this.options.probeMs);
  }

  private async probe(breaker: Breaker): Promise<void> {
    const server = this.serverOf(breaker);
    // A master that owns no slot any more (a replica took over) has nothing left to guard.
    if (server === 'gone') return this.closeBreaker(breaker);
    // Still the owner, but ioredis dropped its connection for now: unavailable.
    if (server === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError('probe timed out')), this.options.timeoutMs);
    });
    try {
      await Promise.race([server.ping(), timeout]);
      this.closeBreaker(breaker);
    } catch {
      // Still unavailable: the next probe will tell.
    } finally {
      clearTimeout(timer);
    }
  }

  private closeBreaker(breaker: Breaker): void {
    const trip = breaker.close();
    if (trip === undefined || this.closed) return;
    this.logger.info(
      { redis: breaker.node, unavailableMs: Date.now() - trip.since },
      `Redis ${breaker.node} answers again: the store uses it again`,
    );
  }

  private serverOf(breaker: Breaker): RedisClient | 'gone' | undefined {
    const { client } = this;
    if (!(client instanceof Cluster) || breaker.node === this.where) return client;
    if (!client.slots.some((owners) => owners?.[0] === breaker.node)) return 'gone';
    return client.nodes('master').find((node) => nameOf(node) === breaker.node);
  }

  private unavailable(breaker: Breaker): RedisUnavailableError {
    const trip = breaker.opened;
    return new RedisUnavailableError(
      breaker.node,
      'unavailable',
      `Redis ${breaker.node} is unavailable (${trip?.kind ?? 'unknown'}: ${trip?.message ?? ''})`,
    );
  }

  private count(kind: RedisErrorKind): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
  }
}

function codeOf(kind: string): string {
  return `REDIS_${kind.toUpperCase().replace(/-/g, '_')}`;
}

function describeOutage(part: { name: string; code: string; message: string }): string {
  return `Redis ${part.name} is unavailable (${part.code}: ${part.message}); the cache serves from memory and the origin`;
}
