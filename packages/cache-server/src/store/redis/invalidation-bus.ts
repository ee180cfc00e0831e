import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeClient, nameOf, type RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';

/**
 * What every node's memory tier must drop. `key` events come from the Redis store itself
 * (commit, updateMeta, delete: published by their scripts, redis-scripts.ts); the others are for
 * purges (URL prefix, tag, everything).
 */
export type Invalidation =
  /**
   * `bodyIds`: the bodies that stopped being current (a memory tier holds copies by body id);
   * `at`: when a deletion happened (ms epoch, the deleting node's clock; purge-record.ts).
   */
  | { kind: 'key'; key: string; variant?: string; reason: 'update' | 'delete'; bodyIds?: string[]; at?: number }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'all'; reason: 'purge' | 'resync' };

export interface InvalidationMessage {
  /** The node that published it (each bus has a random id). */
  source: string;
  event: Invalidation;
}

export type InvalidationListener = (event: Invalidation, message: { source: string; own: boolean }) => void;

/** A heartbeat: sent by this node through one master, to this node only. */
interface Ping {
  /** The master it went through. */
  node: string;
  /** performance.now() when it was sent: the same process reads it back. */
  at: number;
}

/**
 * Purge and update notifications between nodes over one Redis pub/sub channel. Publishing uses
 * the store's command connection; receiving needs a connection of its own, because a
 * subscribed connection can do nothing else.
 *
 * Pub/sub is fire-and-forget: a node that was disconnected may have missed messages. So when
 * the subscriber connects again after an outage, listeners get `{ kind: 'all', reason:
 * 'resync' }`: a memory tier then drops everything rather than serve what may have been purged.
 *
 * How fresh is what a node heard? With a heartbeat (startHeartbeat), the node publishes a ping
 * through every master on a channel of its own. Redis delivers what one server publishes in
 * order (a cluster forwards it over one link per pair of nodes), and every change is published
 * by the script that makes it; so when the ping sent through master M at time t comes back,
 * every change made on M before t has been delivered. `confirmedAt()` is the oldest of those t
 * over all masters: everything changed before it is known to this node.
 */
export class InvalidationBus {
  /** The `source` of this bus's messages: the node's name when it has one, and a random part (two processes may share a name). */
  readonly nodeId: string;
  private readonly listeners = new Set<{ listener: InvalidationListener; includeOwn: boolean }>();
  private readonly pingChannel: string;
  /** Per master: when the last ping that came back was sent. */
  private readonly confirmed = new Map<string, number>();
  private masters: string[] = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private lostConnection = false;
  private closed = false;

  private constructor(
    private readonly publisher: RedisClient,
    private readonly gate: RedisGate,
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly logger: Logger,
    name: string | undefined,
  ) {
    const random = randomBytes(8).toString('hex');
    this.nodeId = name === undefined ? random : `${name}.${random.slice(0, 8)}`;
    this.pingChannel = `${channel}:ping:${this.nodeId}`;
    subscriber.on('message', (from: string, text: string) => {
      if (from === channel) this.receive(text);
      else if (from === this.pingChannel) this.receivePing(text);
    });
    subscriber.on('ready', () => {
      if (this.lostConnection) this.deliver({ kind: 'all', reason: 'resync' }, this.nodeId, false);
      this.lostConnection = false;
    });
    // Also after a failed first attempt: a resync then costs an empty memory tier nothing.
    subscriber.on('close', () => {
      if (this.closed) return;
      this.lostConnection = true;
      // What was confirmed over the lost connection says nothing about the next one.
      this.confirmed.clear();
    });
  }

  /**
   * Subscribes `subscriber` (a connection only for this bus; the bus closes it) to `channel`.
   * Resolves once subscribed, or at once if Redis is down (it subscribes when it can).
   */
  static async open(options: {
    publisher: RedisClient;
    /** Publishing goes through the store's gate: it fails at once while Redis is known to be down. */
    gate: RedisGate;
    subscriber: RedisClient;
    channel: string;
    logger: Logger;
    /** The node's name (--node-id), part of its messages' `source`. */
    nodeId?: string;
  }): Promise<InvalidationBus> {
    const { subscriber } = options;
    const bus = new InvalidationBus(
      options.publisher,
      options.gate,
      subscriber,
      options.channel,
      options.logger,
      options.nodeId,
    );
    const subscribed = subscriber.subscribe(options.channel, bus.pingChannel).catch(() => undefined);
    // Its first attempt may have failed already (while the store waited for its own connection).
    if (subscriber.status === 'reconnecting') return bus;
    await Promise.race([subscribed, new Promise((resolve) => subscriber.once('error', resolve))]);
    return bus;
  }

  /** Tells every node (this one too: listeners decide with `own`). Rejects when Redis is down. */
  async publish(event: Invalidation): Promise<void> {
    const message: InvalidationMessage = { source: this.nodeId, event };
    const text = JSON.stringify(message);
    await this.gate.run(undefined, () => this.publisher.publish(this.channel, text));
  }

  /** Calls `listener` for every event from other nodes (and this one's with `includeOwn`). Returns an unsubscribe. */
  subscribe(listener: InvalidationListener, options: { includeOwn?: boolean } = {}): () => void {
    const entry = { listener, includeOwn: options.includeOwn ?? false };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /**
   * Pings every master each `intervalMs`, through the gate (see the class comment). `masters()`
   * names every master that owns data, connected or not (one that cannot be pinged keeps
   * confirmedAt() undefined), and gives the connections to ping them through.
   */
  startHeartbeat(masters: () => { names: string[]; nodes: Redis[] }, intervalMs: number): void {
    const beat = () => {
      const { names, nodes } = masters();
      this.masters = names;
      for (const node of nodes) {
        if (!names.includes(nameOf(node))) continue;
        // Not while its breaker is open: the probes ask, and the refusal would count as an error.
        if (!this.gate.isAvailable(node)) continue;
        const ping: Ping = { node: nameOf(node), at: performance.now() };
        this.gate.run(node, () => node.publish(this.pingChannel, JSON.stringify(ping))).catch(() => undefined);
      }
    };
    beat();
    this.heartbeat = setInterval(beat, intervalMs).unref();
  }

  /**
   * performance.now() time before which every change of every master has reached this node;
   * undefined until each master has answered a ping over the current connection.
   */
  confirmedAt(): number | undefined {
    if (this.masters.length === 0) return undefined;
    let oldest = Infinity;
    for (const node of this.masters) {
      const at = this.confirmed.get(node);
      if (at === undefined) return undefined;
      if (at < oldest) oldest = at;
    }
    return oldest;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    this.listeners.clear();
    await closeClient(this.subscriber);
  }

  private receivePing(text: string): void {
    try {
      const ping = JSON.parse(text) as Ping;
      if (typeof ping.node === 'string' && typeof ping.at === 'number') {
        this.confirmed.set(ping.node, Math.max(ping.at, this.confirmed.get(ping.node) ?? -Infinity));
      }
    } catch {
      // Not ours to read.
    }
  }

  private receive(text: string): void {
    let message: InvalidationMessage;
    try {
      message = JSON.parse(text) as InvalidationMessage;
    } catch {
      this.logger.warn({ channel: this.channel }, 'ignoring an unreadable invalidation message');
      return;
    }
    const event = message.event;
    if (typeof message.source !== 'string' || typeof event?.kind !== 'string') return;
    // Lua's cjson sends an empty list as an object.
    if (event.kind === 'key' && event.bodyIds !== undefined && !Array.isArray(event.bodyIds)) event.bodyIds = [];
    this.deliver(event, message.source, message.source === this.nodeId);
  }

  private deliver(event: Invalidation, source: string, own: boolean): void {
    for (const { listener, includeOwn } of this.listeners) {
      if (own && !includeOwn) continue;
      try {
        listener(event, { source, own });
      } catch (err) {
        this.logger.warn({ err }, 'an invalidation listener failed');
      }
    }
  }
}
