import type { FileHandle } from 'node:fs/promises';
import { nodeFs, type StoreFs } from '../../src/store/store-fs.js';

/**
 * A StoreFs over the real file system that counts calls and, on demand, fails the way a sick
 * disk does: `ENOSPC`/`EDQUOT` (full) fail every write into a file, while opening still works;
 * `EROFS`/`EACCES` (read-only) fail every open for writing, rename, unlink, mkdir and rm.
 * Reads always work, as they do on a full or read-only disk.
 */
export interface TestFs {
  fs: StoreFs;
  /** Calls made since the last `resetCounts`, by operation (handle reads and writes included). */
  counts(): Record<string, number>;
  /** Total calls since the last `resetCounts`. */
  total(): number;
  resetCounts(): void;
  /** Start failing with `code`; `undefined` heals the disk. */
  fail(code: 'ENOSPC' | 'EDQUOT' | 'EROFS' | 'EACCES' | undefined): void;
}

const FULL = new Set(['ENOSPC', 'EDQUOT']);

export function createTestFs(): TestFs {
  let failing: string | undefined;
  let counts: Record<string, number> = {};
  const count = (op: string) => (counts[op] = (counts[op] ?? 0) + 1);
  const failure = (code: string, syscall: string, path: unknown) =>
    Object.assign(new Error(`${code}: simulated failure, ${syscall} '${String(path)}'`), { code, syscall, path });
  const readOnly = () => failing !== undefined && !FULL.has(failing);
  const full = () => failing !== undefined && FULL.has(failing);

  const wrapHandle = (handle: FileHandle, path: unknown): FileHandle =>
    new Proxy(handle, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          count(`handle.${String(prop)}`);
          if ((prop === 'write' || prop === 'writev' || prop === 'writeFile') && full()) {
            return Promise.reject(failure(failing as string, String(prop), path));
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });

  const guard = <A extends unknown[], R>(
    op: string,
    real: (...args: A) => Promise<R>,
    writes: (...args: A) => boolean,
  ) =>
    (async (...args: A) => {
      count(op);
      if (readOnly() && writes(...args)) throw failure(failing as string, op, args[0]);
      return real(...args);
    }) as (...args: A) => Promise<R>;

  const fs: StoreFs = {
    open: (async (path, flags, mode) => {
      count('open');
      const writing = typeof flags === 'string' && /[wax+]/.test(flags);
      if (readOnly() && writing) throw failure(failing as string, 'open', path);
      return wrapHandle(await nodeFs.open(path, flags, mode), path);
    }) as StoreFs['open'],
    rename: guard('rename', nodeFs.rename, () => true),
    mkdir: guard('mkdir', nodeFs.mkdir, () => true) as StoreFs['mkdir'],
    unlink: guard('unlink', nodeFs.unlink, () => true),
    rm: guard('rm', nodeFs.rm, () => true),
    readFile: guard('readFile', nodeFs.readFile, () => false) as StoreFs['readFile'],
    readdir: guard('readdir', nodeFs.readdir, () => false) as StoreFs['readdir'],
    stat: guard('stat', nodeFs.stat, () => false) as StoreFs['stat'],
    readFileSync: ((...args: Parameters<StoreFs['readFileSync']>) => {
      count('readFileSync');
      return nodeFs.readFileSync(...args);
    }) as StoreFs['readFileSync'],
  };
  return {
    fs,
    counts: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((sum, n) => sum + n, 0),
    resetCounts: () => {
      counts = {};
    },
    fail: (code) => {
      failing = code;
    },
  };
}
