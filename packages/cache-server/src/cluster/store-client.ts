import { randomBytes } from 'node:crypto';
import type { EntryMeta } from '@simple-cache/common';
import type { WriteProgress } from '../store/disk-replica-writer.js';
import { DiskReplica, type StoreAuthority, type Use } from '../store/disk-replica.js';
import type { StoreStats } from '../store/store.js';
import type { Bus } from './bus.js';
import { OP, type ChangedEvent, type WriteBegin, type WriteEnd, type WrittenEntry } from './protocol.js';

/**
 * A worker's replica of the primary's disk store, kept current by the primary's change events,
 * its changes sent to the primary (store-host.ts).
 */
export function openReplica(
  bus: Bus,
  options: Omit<ConstructorParameters<typeof DiskReplica>[0], 'authority'>,
): DiskReplica {
  const writes = new WriteAnnouncer(bus);
  const authority: StoreAuthority = {
    lookup: (key) => bus.request<EntryMeta[]>(OP.lookup, { key }),
    publish: (meta, tmpPath) => bus.request<EntryMeta>(OP.publish, { meta, tmpPath }),
    updateMeta: (meta) => bus.request(OP.updateMeta, { meta }).then(nothing),
    remove: (key, variant, bodyId) => bus.request(OP.remove, { key, variant, bodyId }).then(nothing),
    reportUses: (uses: Use[]) => bus.notify(OP.uses, { uses }),
    entries: () => bus.request<EntryMeta[]>(OP.entries),
    announceWrite: (write) => writes.announce(write),
  };
  const replica = new DiskReplica({ ...options, authority });
  bus.on<ChangedEvent>(OP.changed, ({ key, variants, stats }) => replica.apply(key, variants, stats));
  bus.on<StoreStats>(OP.stats, (stats) => replica.setStats(stats));
  bus.on(OP.storeReady, () => replica.markReady());
  return replica;
}

function nothing(): void {}

/**
 * Tells the primary about every write this worker begins, so that another worker missing the
 * same key can follow it (collapsing across workers); its progress is reported only while
 * somebody follows it (the primary says so), one message per write to the file.
 */
class WriteAnnouncer {
  private readonly followed = new Map<string, () => void>();

  constructor(private readonly bus: Bus) {
    bus.on<{ writeId: string }>(OP.writeFollowed, ({ writeId }) => this.followed.get(writeId)?.());
  }

  announce({ entry, tmpPath }: { entry: WrittenEntry; tmpPath: string }): WriteProgress {
    const writeId = randomBytes(8).toString('hex');
    let flushed = 0;
    let following = false;
    let ended = false;
    const report = () => {
      if (following && !ended) this.bus.notify(OP.writeProgress, { writeId, bytes: flushed });
    };
    this.followed.set(writeId, () => {
      following = true;
      report();
    });
    let announced = false;
    return {
      // Only once the file exists: a follower opens it as soon as it hears of it.
      opened: () => {
        if (ended) return;
        announced = true;
        const begin: WriteBegin = { writeId, key: entry.key, variant: entry.variant, tmpPath, entry };
        this.bus.notify(OP.writeBegin, begin);
      },
      flushed: (bytes) => {
        flushed = bytes;
        report();
      },
      ended: (committed) => {
        if (ended) return;
        ended = true;
        this.followed.delete(writeId);
        if (announced) this.bus.notify(OP.writeEnd, { writeId, entry: committed ?? null } satisfies WriteEnd);
      },
    };
  }
}
