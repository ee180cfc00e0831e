import { describe, expect, test } from '@jest/globals';
import { readdir } from 'node:fs/promises';
import { pino } from 'pino';
import { StoreHost } from '../../src/cluster/store-host.js';
import { openReplica } from '../../src/cluster/store-client.js';
import { DiskStore } from '../../src/store/disk-store.js';
import type { DiskReplica } from '../../src/store/disk-replica.js';
import { createLayout } from '../../src/store/layout.js';
import { busPair } from '../helpers/bus-pair.js';
import { makeTempDir } from './disk-helpers.js';
import { describeStoreContract } from './store-suite.js';
import { makeMeta, readBody, writeEntry } from './store-helpers.js';

const quiet = pino({ enabled: false });
const BLOCK = 4096;
/** A 1,000-byte body and its meta file: a block each. */
const ENTRY_COST = 2 * BLOCK;

/** The primary's disk store and `replicas` workers' replicas of it, joined by in-memory buses. */
async function openShared(maxSize: number, replicas = 1) {
  const temp = await makeTempDir();
  // One block size whatever the file system: what an entry costs (entryCost) is then known.
  const disk = await DiskStore.open({ dir: temp.dir, maxSize, blockSize: BLOCK });
  const host = new StoreHost(disk, quiet);
  const pairs = Array.from({ length: replicas }, () => busPair());
  const workers: DiskReplica[] = pairs.map((pair) => {
    host.attach(pair.primary);
    return openReplica(pair.worker, { dir: temp.dir, maxSize, logger: quiet });
  });
  return {
    disk,
    workers,
    temp,
    async cleanup() {
      for (const worker of workers) await worker.close();
      for (const pair of pairs) pair.close();
      await disk.close();
      await temp.cleanup();
    },
  };
}

describeStoreContract('DiskReplica (a worker’s view of the primary’s DiskStore)', async (options = {}) => {
  const shared = await openShared(options.maxSize ?? 64 * 1024 * 1024);
  return {
    store: shared.workers[0]!,
    cleanup: () => shared.cleanup(),
    leftovers: () => readdir(createLayout(shared.temp.dir).tmpDir),
  };
});

const KEY = 'http://origin.test/shared';

describe('two replicas of one disk store', () => {
  test('what one commits, the other finds without reading a file, as soon as the commit resolves', async () => {
    const shared = await openShared(1024 * 1024, 2);
    try {
      const [a, b] = shared.workers as [DiskReplica, DiskReplica];
      expect(b.peekSync(KEY)).toBeUndefined();
      const committed = await writeEntry(a, makeMeta(KEY), 'from a');
      // The change went to every replica before the commit's answer.
      await new Promise((resolve) => setImmediate(resolve));
      expect(b.peekSync(KEY)).toEqual([committed]);
      expect((await readBody(b, committed)).toString()).toBe('from a');
    } finally {
      await shared.cleanup();
    }
  });

  test('a delete through one replica drops the body from the other replica’s listeners', async () => {
    const shared = await openShared(1024 * 1024, 2);
    try {
      const [a, b] = shared.workers as [DiskReplica, DiskReplica];
      const committed = await writeEntry(a, makeMeta(KEY), 'x');
      expect(await b.lookup(KEY)).toHaveLength(1);
      const removed: string[] = [];
      b.onBodyRemoved((bodyId) => removed.push(bodyId));
      await a.delete(KEY);
      await new Promise((resolve) => setImmediate(resolve));
      expect(removed).toEqual([committed.bodyId]);
      expect(b.peekSync(KEY)).toEqual([]);
    } finally {
      await shared.cleanup();
    }
  });

  test('--max-size holds over both replicas’ writes: one eviction authority, least recently used first', async () => {
    // Room for two entries, not three.
    const shared = await openShared(2.5 * ENTRY_COST, 2);
    try {
      const [a, b] = shared.workers as [DiskReplica, DiskReplica];
      const body = Buffer.alloc(1000, 1);
      const first = await writeEntry(a, makeMeta(`${KEY}/1`, { size: 1000 }), body);
      await writeEntry(b, makeMeta(`${KEY}/2`, { size: 1000 }), body);
      b.markUsed(first);
      b.reportUses();
      await writeEntry(a, makeMeta(`${KEY}/3`, { size: 1000 }), body);
      await new Promise((resolve) => setImmediate(resolve));
      expect(shared.disk.stats()).toMatchObject({ entries: 2, size: 2 * ENTRY_COST, evictions: 1 });
      // /2 was the least recently used (/1 was used through the other replica).
      expect(await a.lookup(`${KEY}/2`)).toEqual([]);
      expect(await b.lookup(`${KEY}/1`)).toHaveLength(1);
      expect(b.stats()).toMatchObject({ entries: 2, size: 2 * ENTRY_COST, evictions: 1 });
    } finally {
      await shared.cleanup();
    }
  });
});
