import { dirname } from 'node:path';
import type { StoreFs } from './store-fs.js';

export function hasErrorCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Deletes a file; one that is already gone is not an error (cleanup often races a rename). */
export async function unlinkQuietly(fs: StoreFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (!hasErrorCode(err, 'ENOENT')) throw err;
  }
}

/**
 * rename(2), creating the fan-out directory on first use. Directories are made lazily rather
 * than all 2×256 at open so that a directory removed behind our back heals itself.
 */
export async function renameCreatingParent(fs: StoreFs, from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (err) {
    if (!hasErrorCode(err, 'ENOENT')) throw err;
    await fs.mkdir(dirname(to), { recursive: true });
    await fs.rename(from, to);
  }
}

/**
 * Replaces `path` with `data` so that a reader (or a crash) sees the old or the new content,
 * never a mix: write a temp file, fsync it, rename it over the target.
 */
export async function writeFileAtomically(fs: StoreFs, path: string, tmp: string, data: string): Promise<void> {
  await stageFile(fs, tmp, data);
  try {
    await renameCreatingParent(fs, tmp, path);
  } catch (err) {
    await unlinkQuietly(fs, tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * The first half of writeFileAtomically: `data` written to a new temp file and fsynced, ready
 * to be renamed into place (the expensive half, which can run outside a key's lock). On failure
 * the temp file is gone.
 */
export async function stageFile(fs: StoreFs, tmp: string, data: string): Promise<void> {
  try {
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await unlinkQuietly(fs, tmp).catch(() => undefined);
    throw err;
  }
}
