import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryMeta } from '@simple-cache/common';
import type { Logger } from 'pino';
import type { DiskStore } from '../store/disk-store.js';
import { unlinkQuietly } from '../store/fs-utils.js';
import { nodeFs } from '../store/store-fs.js';
import type { Bus } from './bus.js';
import { OP, type ChangedEvent, type PublishArgs, type RemoveArgs, type UsesEvent } from './protocol.js';

/**
 * The primary's side of the shared disk store: the one DiskStore (writer, index, eviction),
 * serving the workers' replicas (store/disk-replica.ts) over their buses. Every change of a key
 * goes to every worker, in the order it happened, before the answer that caused it.
 */
export class StoreHost {
  private readonly buses = new Set<Bus>();

  constructor(
    readonly disk: DiskStore,
    private readonly logger: Logger,
  ) {
    disk.onKeyChanged((key, variants) => {
      const event: ChangedEvent = { key, variants: [...variants], stats: disk.stats() };
      for (const bus of this.buses) bus.notify(OP.changed, event);
    });
  }

  /** Serves one worker's replica. Returns the detach. */
  attach(bus: Bus): () => void {
    this.buses.add(bus);
    const { disk } = this;
    bus.handle<{ key: string }, EntryMeta[]>(OP.lookup, ({ key }) => disk.lookup(key));
    bus.handle<PublishArgs, EntryMeta>(OP.publish, ({ meta, tmpPath }) => disk.publishStaged(meta, tmpPath));
    bus.handle<{ meta: EntryMeta }, void>(OP.updateMeta, ({ meta }) => disk.updateMeta(meta));
    bus.handle<RemoveArgs, void>(OP.remove, ({ key, variant, bodyId }) => this.remove(key, variant, bodyId));
    bus.handle<null, EntryMeta[]>(OP.entries, async () => {
      const all: EntryMeta[] = [];
      for await (const entry of disk.entries()) all.push(entry);
      return all;
    });
    bus.on<UsesEvent>(OP.uses, ({ uses }) => disk.recordUses(uses));
    // The worker's first look: the figures so far, and whether the scan is done.
    bus.notify(OP.stats, disk.stats());
    void this.whenReady(bus);
    return () => this.buses.delete(bus);
  }

  /**
   * A worker died: the bodies it was writing can never be published, so its temp files go
   * (named `<pid>-…`, see DiskReplica). Nothing it wrote had become visible.
   */
  async removeStaged(pid: number): Promise<void> {
    const prefix = `${pid}-`;
    const names = await readdir(this.disk.tmpDir).catch(() => [] as string[]);
    await Promise.all(
      names
        .filter((name) => name.startsWith(prefix))
        .map((name) =>
          unlinkQuietly(nodeFs, join(this.disk.tmpDir, name)).catch((err: unknown) =>
            this.logger.warn({ err, name }, 'cannot delete a dead worker’s temp file'),
          ),
        ),
    );
  }

  private async whenReady(bus: Bus): Promise<void> {
    await this.disk.ready();
    bus.notify(OP.storeReady);
  }

  private remove(key: string, variant: string | undefined, bodyId: string | undefined): Promise<void> {
    if (bodyId === undefined || variant === undefined) return this.disk.delete(key, variant);
    return this.disk.deleteIfCurrent({ key, variant, bodyId });
  }
}
