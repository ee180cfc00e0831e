import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where the disk store keeps its files. Everything lives under `<dir>/v1/` so a future format
 * can sit beside it (and migrate from it) without the two ever reading each other's files:
 *
 *   <dir>/v1/meta/<2 hex>/<sha256(key)>.json   every variant of one key (see meta-file.ts)
 *   <dir>/v1/body/<2 hex>/<bodyId>             raw body bytes, bodyId = 128 random bits in hex
 *   <dir>/v1/tmp/<random>.<kind>               writes in progress; emptied at open and close
 *
 * No file name is ever derived from request data other than through sha256, and body ids are
 * checked against `isBodyId` before they become a path: a crafted URL or a tampered meta file
 * cannot make the store read or write outside `<dir>/v1`. The two-hex-digit fan-out keeps
 * directories small (256 of them, ~400 files each at 100k entries).
 */
export const FORMAT_DIR = 'v1';

const BODY_ID = /^[0-9a-f]{32}$/;
const META_FILE_NAME = /^[0-9a-f]{64}\.json$/;

export interface Layout {
  /** `<dir>/v1`: the store owns everything below it. */
  readonly root: string;
  readonly metaDir: string;
  readonly bodyDir: string;
  readonly tmpDir: string;
}

export function createLayout(dir: string): Layout {
  const root = join(dir, FORMAT_DIR);
  return { root, metaDir: join(root, 'meta'), bodyDir: join(root, 'body'), tmpDir: join(root, 'tmp') };
}

/** The meta file's name, which is also what writes to one key are serialised on. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A fresh id for every body written, so a replaced body never shares a path with its successor. */
export function createBodyId(): string {
  return randomBytes(16).toString('hex');
}

export function isBodyId(value: unknown): value is string {
  return typeof value === 'string' && BODY_ID.test(value);
}

export function isMetaFileName(name: string): boolean {
  return META_FILE_NAME.test(name);
}

/** `hash` must come from `hashKey` (or a name that passed `isMetaFileName`). */
export function metaPath(layout: Layout, hash: string): string {
  return join(layout.metaDir, hash.slice(0, 2), `${hash}.json`);
}

/** `bodyId` must have passed `isBodyId`. */
export function bodyPath(layout: Layout, bodyId: string): string {
  return join(layout.bodyDir, bodyId.slice(0, 2), bodyId);
}

export function tmpPath(layout: Layout, kind: 'body' | 'meta'): string {
  return join(layout.tmpDir, `${randomBytes(16).toString('hex')}.${kind}`);
}
