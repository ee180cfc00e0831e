import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { Store } from '../../src/store/store.js';

/** What beginWrite takes. */
export type NewEntry = Omit<EntryMeta, 'bodyId' | 'checksum'>;

/** Metadata of a plain 200 response for `key`; `size` defaults to -1 (unknown). */
export function makeMeta(key: string, overrides: Partial<NewEntry> = {}): NewEntry {
  const now = Date.now();
  return {
    key,
    variant: '',
    vary: [],
    varyValues: {},
    status: 200,
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'max-age=60' },
    requestTime: now - 5,
    responseTime: now,
    size: -1,
    ...overrides,
  };
}

/**
 * Streams `body` into a new entry (in `chunkSize` pieces, honouring back-pressure) and commits,
 * as the proxy's tee does: a body the store closes early (too large, store degraded) ends the
 * copying, and commit() says why.
 */
export async function writeEntry(
  store: Store,
  meta: NewEntry,
  body: Buffer | string,
  chunkSize = 16 * 1024,
): Promise<EntryMeta> {
  const writer = store.beginWrite(meta);
  await pipeline(Readable.from(chunksOf(Buffer.from(body), chunkSize)), writer.body).catch(() => undefined);
  return writer.commit();
}

export function* chunksOf(body: Buffer, chunkSize: number): Generator<Buffer> {
  for (let offset = 0; offset < body.length; offset += chunkSize) yield body.subarray(offset, offset + chunkSize);
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export async function readBody(
  store: Store,
  entry: EntryMeta,
  range?: { start: number; end: number },
): Promise<Buffer> {
  return readAll(await store.openBody(entry, range));
}

export function sha1(body: Buffer | string): string {
  return createHash('sha1').update(body).digest('hex');
}

export function randomBody(size: number): Buffer {
  return randomBytes(size);
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

export function byKeyAndVariant(a: EntryMeta, b: EntryMeta): number {
  return a.key.localeCompare(b.key) || a.variant.localeCompare(b.variant);
}
