import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DiskStore } from '../../src/store/disk-store.js';
import { bodyPath, createLayout, hashKey, metaPath } from '../../src/store/layout.js';
import type { MakeStore } from './store-suite.js';

export const DEFAULT_MAX_SIZE = 64 * 1024 * 1024;

export interface TempDir {
  /** A directory of its own inside `parent`, so tests can check nothing was written beside it. */
  dir: string;
  parent: string;
  cleanup(): Promise<void>;
}

export async function makeTempDir(): Promise<TempDir> {
  const parent = await mkdtemp(join(tmpdir(), 'disk-store-'));
  const dir = join(parent, 'cache');
  return { dir, parent, cleanup: () => rm(parent, { recursive: true, force: true }) };
}

export function openDiskStore(dir: string, maxSize = DEFAULT_MAX_SIZE): Promise<DiskStore> {
  return DiskStore.open({ dir, maxSize });
}

/** The shared contract suite's factory: a fresh DiskStore in a fresh directory. */
export const makeDiskStore: MakeStore = async (options) => {
  const temp = await makeTempDir();
  const store = await openDiskStore(temp.dir, options?.maxSize);
  return {
    store,
    leftovers: () => readdir(createLayout(temp.dir).tmpDir),
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
};

/** Every file below `root`, as paths relative to it with '/' separators, sorted. */
export async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

export function metaFileOf(dir: string, key: string): string {
  return metaPath(createLayout(dir), hashKey(key));
}

export function bodyFileOf(dir: string, bodyId: string): string {
  return bodyPath(createLayout(dir), bodyId);
}
