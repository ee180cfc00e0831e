import type { EntryMeta, EntryPart, HeaderMap } from '@simple-cache/common';
import { hasErrorCode } from './fs-utils.js';
import { isBodyId } from './layout.js';
import type { StoreFs } from './store-fs.js';

/**
 * The meta file format, version 2: one JSON document per variant.
 *
 *   { "format": 2, "entry": EntryMeta }
 *
 * One file per variant, so storing, freshening or deleting one variant writes one small file
 * whatever number of siblings it has (v1 kept every variant of a key in one file, rewritten
 * whole at each commit). Any change to this shape bumps `format` and the directory (layout.ts);
 * a file with another `format`, or one that does not validate, is treated as a miss and
 * deleted: its body becomes an orphan that the start-up scan removes.
 */
export const META_FORMAT = 2;

export type ParsedMetaFile =
  | { kind: 'ok'; entry: EntryMeta; bytes: number }
  | { kind: 'unknown-format'; format: unknown }
  | { kind: 'corrupt'; reason: string };

export type ReadMetaFile = ParsedMetaFile | { kind: 'missing' };

export function serializeMetaFile(entry: EntryMeta): string {
  return JSON.stringify({ format: META_FORMAT, entry });
}

export function parseMetaFile(text: string): ParsedMetaFile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', reason: 'invalid JSON' };
  }
  if (!isRecord(doc)) return { kind: 'corrupt', reason: 'not an object' };
  if (doc.format !== META_FORMAT) return { kind: 'unknown-format', format: doc.format };
  const entry = toEntryMeta(doc.entry);
  if (entry === undefined) return { kind: 'corrupt', reason: 'invalid entry' };
  return { kind: 'ok', entry, bytes: Buffer.byteLength(text, 'utf8') };
}

/** Reads and parses one meta file; I/O errors other than "not there" propagate. */
export async function readMetaFile(fs: StoreFs, path: string): Promise<ReadMetaFile> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (hasErrorCode(err, 'ENOENT')) return { kind: 'missing' };
    throw err;
  }
  return parseMetaFile(text);
}

/** readMetaFile without waiting (the start-up scan); same results. */
export function readMetaFileSync(fs: StoreFs, path: string): ReadMetaFile {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if (hasErrorCode(err, 'ENOENT')) return { kind: 'missing' };
    throw err;
  }
  return parseMetaFile(text);
}

/**
 * Validates one stored variant field by field and copies only the known fields, so whatever
 * reaches the index (and from there a file path or an HTTP response) has the declared types.
 */
function toEntryMeta(value: unknown): EntryMeta | undefined {
  if (!isRecord(value)) return undefined;
  const { key, variant, vary, varyValues, status, headers, requestTime, responseTime, size, bodyId } = value;
  const { checksum, lastAccess, hits, part } = value;
  const valid =
    typeof key === 'string' &&
    typeof variant === 'string' &&
    isStringArray(vary) &&
    isVaryValues(varyValues) &&
    Number.isInteger(status) &&
    isHeaderMap(headers) &&
    isTime(requestTime) &&
    isTime(responseTime) &&
    isCount(size) &&
    isBodyId(bodyId) &&
    (checksum === undefined || (typeof checksum === 'string' && /^[0-9a-f]{40}$/.test(checksum))) &&
    (lastAccess === undefined || isTime(lastAccess)) &&
    (hits === undefined || isCount(hits)) &&
    (part === undefined || isPart(part, size));
  if (!valid) return undefined;
  const entry: EntryMeta = {
    key,
    variant,
    vary,
    varyValues,
    status: status as number,
    headers,
    requestTime,
    responseTime,
    size,
    bodyId,
  };
  if (checksum !== undefined) entry.checksum = checksum;
  if (lastAccess !== undefined) entry.lastAccess = lastAccess;
  if (hits !== undefined) entry.hits = hits;
  if (part !== undefined) {
    const { variant: of, start, end, length } = part as EntryPart;
    entry.part = { variant: of, start, end, length };
  }
  return entry;
}

/**
 * A part (a stored 206, `EntryMeta.part`): which bytes of which variant it holds, and a body of
 * exactly those bytes. An extension of format 2 that an older release reads safely: it drops the
 * field it does not know, and the part's `vary` starts with `*`, which no request matches.
 */
function isPart(value: unknown, size: unknown): boolean {
  if (!isRecord(value)) return false;
  const { variant, start, end, length } = value;
  return (
    typeof variant === 'string' &&
    isCount(start) &&
    isCount(end) &&
    isCount(length) &&
    start <= end &&
    end < length &&
    size === end - start + 1
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** JSON drops `undefined`, so an absent request header comes back as a missing property. */
function isVaryValues(value: unknown): value is Record<string, string | undefined> {
  return isRecord(value) && Object.values(value).every((item) => typeof item === 'string');
}

function isHeaderMap(value: unknown): value is HeaderMap {
  return isRecord(value) && Object.values(value).every((item) => typeof item === 'string' || isStringArray(item));
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
