import { afterEach, beforeEach } from '@jest/globals';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DiskStore, type DiskStoreOptions } from '../../src/store/disk-store.js';
import { bodyPath, createLayout, hashKey, hashVariant, metaPath } from '../../src/store/layout.js';
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

export type DiskStoreSettings = Partial<Omit<DiskStoreOptions, 'dir'>>;

export interface DiskStoreFixture {
  /** The current test's store (a new object after reopen). */
  readonly store: DiskStore;
  /** Its directory, inside a parent of its own. */
  readonly temp: TempDir;
  /** Closes the store (if still open) and opens another on the same directory. */
  reopen(overrides?: DiskStoreSettings): Promise<DiskStore>;
}

/**
 * The setup every disk store test shares: a fresh directory and a store opened on it before
 * each test, both gone after it. Call inside a describe block.
 */
export function useDiskStore(settings: DiskStoreSettings = {}): DiskStoreFixture {
  let temp: TempDir | undefined;
  let store: DiskStore | undefined;
  const open = (overrides: DiskStoreSettings = {}) =>
    DiskStore.open({ maxSize: DEFAULT_MAX_SIZE, ...settings, ...overrides, dir: required(temp).dir });
  beforeEach(async () => {
    temp = await makeTempDir();
    store = await open();
  });
  afterEach(async () => {
    await store?.close();
    await temp?.cleanup();
    store = undefined;
    temp = undefined;
  });
  return {
    get store() {
      return required(store);
    },
    get temp() {
      return required(temp);
    },
    async reopen(overrides) {
      await store?.close();
      store = await open(overrides);
      return store;
    },
  };
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('only available inside a test');
  return value;
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

/**
 * What the files of the store at `dir` take, counted as the store counts them (entryCost): each
 * body and meta file rounded up to whole blocks of `blockSize`. Temp files are not counted.
 */
export async function countedDiskSize(dir: string, blockSize: number): Promise<number> {
  const layout = createLayout(dir);
  let total = 0;
  for (const root of [layout.metaDir, layout.bodyDir]) {
    for (const file of await listFiles(root)) {
      const { size } = await stat(join(root, file));
      total += Math.ceil(size / blockSize) * blockSize;
    }
  }
  return total;
}

/** The meta file of one variant ('' when the response had no Vary). */
export function metaFileOf(dir: string, key: string, variant = ''): string {
  return metaPath(createLayout(dir), hashKey(key), hashVariant(variant));
}

export function bodyFileOf(dir: string, bodyId: string): string {
  return bodyPath(createLayout(dir), bodyId);
}
