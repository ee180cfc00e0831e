/**
 * `big.bin`: a larger binary file for the demo and the tests (streaming, Range, the disk store).
 * Its bytes are pseudo-random, so compression cannot shrink it, and deterministic, so a test can
 * regenerate them and compare. It is generated on demand rather than committed.
 */
import { createCipheriv, randomUUID } from 'node:crypto';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const BIG_FILE_NAME = 'big.bin';
export const BIG_FILE_SIZE = 4 * 1024 * 1024;

// AES-128-CTR over zeros is a fast, well-defined keystream; key and counter are fixed constants
// so every machine produces the same bytes.
const KEY = Buffer.from('simple-cache big', 'latin1');
const IV = Buffer.alloc(16);

export function generateBigFileBytes(size: number = BIG_FILE_SIZE): Buffer {
  const cipher = createCipheriv('aes-128-ctr', KEY, IV);
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** Writes `big.bin` into `root`, atomically (temp file + rename) so concurrent callers are safe. */
export async function writeBigFile(root: string): Promise<string> {
  const target = path.join(root, BIG_FILE_NAME);
  const temp = `${target}.${randomUUID()}.tmp`;
  try {
    await writeFile(temp, generateBigFileBytes());
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return target;
}

/** Makes sure `root/big.bin` exists with the expected size. Returns true when it had to write it. */
export async function ensureBigFile(root: string): Promise<boolean> {
  const existing = await stat(path.join(root, BIG_FILE_NAME)).catch(() => undefined);
  if (existing?.isFile() && existing.size === BIG_FILE_SIZE) return false;
  await writeBigFile(root);
  return true;
}
