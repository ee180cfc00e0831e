import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where the disk store keeps its files. Everything lives under `<dir>/v2/` so that formats never
 * read each other's files (an older one is removed at open, see scan.ts; a newer or unknown
 * one is left alone):
 *
 *   <dir>/v2/meta/<2 hex>/<sha256(key)>.<sha256(variant)>.json   one variant (see meta-file.ts)
 *   <dir>/v2/body/<2 hex>/<bodyId>             raw body bytes, bodyId = 128 random bits in hex
 *   <dir>/v2/tmp/<random>.<kind>               writes in progress; emptied at open and close
 *
 * One meta file per variant (v1 had one per key holding every variant, so each commit rewrote
 * all of its siblings: issue 12.10). The fan-out is by the key's hash, so every variant of a key
 * sits in one directory, found by one readdir while the start-up scan has not read it yet.
 *
 * No file name is ever derived from request data other than through sha256, and body ids are
 * checked against `isBodyId` before they become a path: a crafted URL or a tampered meta file
 * cannot make the store read or write outside `<dir>/v2`. The two-hex-digit fan-out keeps
 * directories small (256 of them, ~400 files each at 100k entries).
 */
export const FORMAT_DIR = 'v2';

/** Format directories of earlier versions: their content is removed at open (see scan.ts). */
export const OLDER_FORMAT_DIRS: readonly string[] = ['v1'];

const BODY_ID = /^[0-9a-f]{32}$/;
const META_FILE_NAME = /^([0-9a-f]{64})\.([0-9a-f]{64})\.json$/;

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

/** The key's hash: the first half of its meta files' names, and what writes to one key are serialised on. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The variant's hash: the second half of its meta file's name. */
export function hashVariant(variant: string): string {
  return createHash('sha256').update(variant, 'utf8').digest('hex');
}

/** A fresh id for every body written, so a replaced body never shares a path with its successor. */
export function createBodyId(): string {
  return randomBytes(16).toString('hex');
}

export function isBodyId(value: unknown): value is string {
  return typeof value === 'string' && BODY_ID.test(value);
}

/** The key and variant hashes a meta file's name is made of; undefined for any other name. */
export function parseMetaFileName(name: string): { keyHash: string; variantHash: string } | undefined {
  const match = META_FILE_NAME.exec(name);
  return match === null ? undefined : { keyHash: match[1] as string, variantHash: match[2] as string };
}

/** The directory holding every meta file of the key whose hash is `keyHash`. */
export function metaDirOf(layout: Layout, keyHash: string): string {
  return join(layout.metaDir, keyHash.slice(0, 2));
}

/** The hashes must come from `hashKey` / `hashVariant` (or a name that passed `parseMetaFileName`). */
export function metaPath(layout: Layout, keyHash: string, variantHash: string): string {
  return join(metaDirOf(layout, keyHash), `${keyHash}.${variantHash}.json`);
}

/** `bodyId` must have passed `isBodyId`. */
export function bodyPath(layout: Layout, bodyId: string): string {
  return join(layout.bodyDir, bodyId.slice(0, 2), bodyId);
}

export function tmpPath(layout: Layout, kind: 'body' | 'meta'): string {
  return join(layout.tmpDir, `${randomBytes(16).toString('hex')}.${kind}`);
}
