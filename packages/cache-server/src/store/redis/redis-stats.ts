import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { scanEntries } from './meta-scan.js';
import { masterNodes, type RedisClient } from './redis-connection.js';
import type { RedisGate } from './redis-gate.js';
import type { RedisKeys } from './redis-keys.js';

export interface StatsSnapshot {
  entries: number;
  size: number;
  evictions: number;
}

/**
 * Entry and byte counts shared by every node, kept in one Redis hash. `stats()` is synchronous,
 * so each node holds a snapshot: replaced by the counters' new values after each of its own
 * writes and deletes, and re-read periodically to see the other nodes' changes.
 *
 * Redis expiring or evicting a key by itself does not touch the counters, so they drift; a
 * periodic recount (SCAN of every meta key, one node at a time under a lock) sets them right.
 * `evictions` is Redis's own `evicted_keys` (every master, since it started).
 */
export class RedisStats {
  private snapshot: StatsSnapshot = { entries: 0, size: 0, evictions: 0 };

  constructor(
    private readonly client: RedisClient,
    private readonly gate: RedisGate,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
  ) {}

  current(): StatsSnapshot {
    return { ...this.snapshot };
  }

  /** Adds a write's or delete's change; never rejects (the next recount repairs a lost one). */
  async apply(entries: number, bytes: number): Promise<void> {
    if (entries === 0 && bytes === 0) return;
    try {
      const { client, keys } = this;
      const [total, size] = await this.gate.run(keys.stats, () =>
        Promise.all([client.hincrby(keys.stats, 'entries', entries), client.hincrby(keys.stats, 'size', bytes)]),
      );
      this.snapshot = { ...this.snapshot, entries: Math.max(0, total), size: Math.max(0, size) };
    } catch (err) {
      this.logger.debug({ err }, 'cannot update the shared stats');
    }
  }

  /** Re-reads the shared counters and Redis's eviction count; never rejects. */
  async refresh(): Promise<void> {
    try {
      const { client, keys, gate } = this;
      const [entries, size] = await gate.run(keys.stats, () => client.hmget(keys.stats, 'entries', 'size'));
      const infos = await Promise.all(masterNodes(client).map((node) => gate.run(node, () => node.info('stats'))));
      const evictions = infos.reduce((sum, info) => sum + Number(/evicted_keys:(\d+)/.exec(info)?.[1] ?? 0), 0);
      this.snapshot = { entries: Math.max(0, Number(entries ?? 0)), size: Math.max(0, Number(size ?? 0)), evictions };
    } catch (err) {
      this.logger.debug({ err }, 'cannot read the shared stats');
    }
  }

  /**
   * Counts what is really stored and writes it to the counters. One node at a time (a lock of
   * `lockMs`); returns false when another node holds it. Writes racing with the scan make the
   * result approximate, which the next recount corrects.
   */
  async recount(lockMs: number): Promise<boolean> {
    const token = randomBytes(8).toString('hex');
    const { client, keys, gate } = this;
    const locked = await gate.run(keys.recountLock, () => client.set(keys.recountLock, token, 'PX', lockMs, 'NX'));
    if (locked !== 'OK') return false;
    let entries = 0;
    let size = 0;
    for await (const variants of scanEntries(client, gate, keys, Date.now)) {
      entries += variants.length;
      for (const variant of variants) size += variant.size;
    }
    await gate.run(keys.stats, () => client.hset(keys.stats, { entries, size }));
    this.snapshot = { ...this.snapshot, entries, size };
    return true;
  }
}
