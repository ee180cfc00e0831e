import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import { hasErrorCode } from './fs-utils.js';
import { isBodyId } from './layout.js';
import type { StoreFs } from './store-fs.js';

/**
 * The meta file format, version 1: one JSON document per primary key holding every variant.
 *
 *   { "format": 1, "key": "<key>", "variants": [EntryMeta, …] }
 *
 * One file per key (rather than per variant) makes replacing a variant and reading all of a
 * key's variants one atomic file operation each. Any change to this shape bumps `format` and
 * the directory (layout.ts); a file with another `format`, or one that does not validate, is
 * treated as a miss and deleted — its bodies become orphans that the start-up scan removes.
 */
export const META_FORMAT = 1;

export type ParsedMetaFile =
  | { kind: 'ok'; key: string; variants: EntryMeta[] }
  | { kind: 'unknown-format'; format: unknown }
  | { kind: 'corrupt'; reason: string };

export type ReadMetaFile = ParsedMetaFile | { kind: 'missing' };

export function serializeMetaFile(key: string, variants: readonly EntryMeta[]): string {
  return JSON.stringify({ format: META_FORMAT, key, variants });
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
  const { key, variants } = doc;
  if (typeof key !== 'string') return { kind: 'corrupt', reason: 'key is not a string' };
  if (!Array.isArray(variants)) return { kind: 'corrupt', reason: 'variants is not an array' };
  const entries: EntryMeta[] = [];
  const seen = new Set<string>();
  for (const value of variants) {
    const entry = toEntryMeta(value);
    if (entry === undefined || entry.key !== key) return { kind: 'corrupt', reason: 'invalid variant' };
    if (seen.has(entry.variant)) return { kind: 'corrupt', reason: 'duplicate variant' };
    seen.add(entry.variant);
    entries.push(entry);
  }
  return { kind: 'ok', key, variants: entries };
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
  const { checksum, lastAccess, hits } = value;
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
    (hits === undefined || isCount(hits));
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
  return entry;
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
