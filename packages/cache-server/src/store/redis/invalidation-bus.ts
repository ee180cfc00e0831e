import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { closeClient, type RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';

/**
 * What every node's memory tier must drop. `key` events come from the Redis store itself
 * (commit, updateMeta, delete); the others are for purges (URL prefix, tag, everything).
 */
export type Invalidation =
  /** `bodyIds`: the bodies that stopped being current (a memory tier holds copies by body id). */
  | { kind: 'key'; key: string; variant?: string; reason: 'update' | 'delete'; bodyIds?: string[] }
  | { kind: 'prefix'; prefix: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'all'; reason: 'purge' | 'resync' };

export interface InvalidationMessage {
  /** The node that published it (each bus has a random id). */
  source: string;
  event: Invalidation;
}

export type InvalidationListener = (event: Invalidation, message: { source: string; own: boolean }) => void;

/**
 * Purge and update notifications between nodes over one Redis pub/sub channel. Publishing uses
 * the store's command connection; receiving needs a connection of its own, because a
 * subscribed connection can do nothing else.
 *
 * Pub/sub is fire-and-forget: a node that was disconnected may have missed messages. So when
 * the subscriber connects again after an outage, listeners get `{ kind: 'all', reason:
 * 'resync' }`: a memory tier then drops everything rather than serve what may have been purged.
 */
export class InvalidationBus {
  readonly nodeId = randomBytes(8).toString('hex');
  private readonly listeners = new Set<{ listener: InvalidationListener; includeOwn: boolean }>();
  private lostConnection = false;
  private closed = false;

  private constructor(
    private readonly publisher: RedisClient,
    private readonly gate: RedisGate,
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly logger: Logger,
  ) {
    subscriber.on('message', (from: string, text: string) => {
      if (from === channel) this.receive(text);
    });
    subscriber.on('ready', () => {
      if (this.lostConnection) this.deliver({ kind: 'all', reason: 'resync' }, this.nodeId, false);
      this.lostConnection = false;
    });
    // Also after a failed first attempt: a resync then costs an empty memory tier nothing.
    subscriber.on('close', () => {
      if (!this.closed) this.lostConnection = true;
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
  }): Promise<InvalidationBus> {
    const { subscriber } = options;
    const bus = new InvalidationBus(options.publisher, options.gate, subscriber, options.channel, options.logger);
    const subscribed = subscriber.subscribe(options.channel).catch(() => undefined);
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

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await closeClient(this.subscriber);
  }

  private receive(text: string): void {
    let message: InvalidationMessage;
    try {
      message = JSON.parse(text) as InvalidationMessage;
    } catch {
      this.logger.warn({ channel: this.channel }, 'ignoring an unreadable invalidation message');
      return;
    }
    if (typeof message.source !== 'string' || typeof message.event?.kind !== 'string') return;
    this.deliver(message.event, message.source, message.source === this.nodeId);
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
