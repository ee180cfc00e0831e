import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import type { HeaderMap } from '@simple-cache/common';
import { selectVariantOrIdentity } from '../policy/keys.js';
import {
  combinedHeaders,
  isWhole,
  locateRange,
  redundantParts,
  selectParts,
  type PartEntry,
  type Segment,
} from '../policy/partial.js';
import { hasSyncLookup, type Store } from './store.js';

/**
 * What partial entries need of a store. A part (a stored 206, RFC 9111 §3.3) is an entry like
 * any other (its own variant, body, size, recency), so every store keeps, counts, evicts and
 * purges parts with no code of its own; what is particular to them (reading a range across
 * several parts, writing the complete entry they add up to) is built here on the core
 * interface, for the disk store, the memory tier and Redis alike.
 */

/** One piece of what is sent: literal bytes (a multipart head), or a segment of a part. */
export type Piece = { text: string } | { segment: Segment };

/**
 * Streams `pieces` in order: each part's body range is opened before the stream is returned,
 * so a part that is gone or corrupt rejects here (nothing sent yet: the caller fetches instead)
 * rather than in the middle of a response.
 */
export async function openPieces(
  store: Store,
  parts: readonly EntryMeta[],
  pieces: readonly Piece[],
): Promise<Readable> {
  const opened: (Readable | Buffer)[] = [];
  try {
    for (const piece of pieces) {
      if ('text' in piece) {
        opened.push(Buffer.from(piece.text));
        continue;
      }
      const { index, from, to } = piece.segment;
      opened.push(await store.openBody(parts[index] as EntryMeta, { start: from, end: to }));
    }
  } catch (error) {
    for (const item of opened) if (item instanceof Readable) item.destroy();
    throw error;
  }
  return Readable.from(concatenate(opened), { objectMode: false });
}

async function* concatenate(items: readonly (Readable | Buffer)[]): AsyncGenerator<Buffer> {
  let index = 0;
  try {
    for (; index < items.length; index++) {
      const item = items[index] as Readable | Buffer;
      if (Buffer.isBuffer(item)) yield item;
      else for await (const chunk of item) yield chunk as Buffer;
    }
  } finally {
    // The reader left early (client gone): close what was opened and not read.
    for (let rest = index; rest < items.length; rest++) {
      const item = items[rest];
      if (item instanceof Readable) item.destroy();
    }
  }
}

/**
 * RFC 9111 §3.4, RFC 9110 §15.3.7.3: parts that hold every byte of their representation become
 * one complete entry (a 200 with the newest part's header fields, `Content-Length` the complete
 * length); then the parts are deleted. `held` is newest first, all combinable (selectParts).
 * Resolves with the complete entry, or undefined when it could not be written (the parts stay).
 */
export async function assembleParts(store: Store, held: readonly PartEntry[]): Promise<EntryMeta | undefined> {
  const newest = held[0];
  if (newest === undefined) return undefined;
  const { part } = newest;
  const segments = locateRange(
    held.map((entry) => entry.part),
    { start: 0, end: part.length - 1 },
  );
  if (segments === undefined) return undefined;
  const writer = store.beginWrite({
    key: newest.key,
    variant: part.variant,
    vary: newest.vary.filter((name) => name !== '*'),
    varyValues: newest.varyValues,
    status: 200,
    headers: combinedHeaders(newest),
    requestTime: newest.requestTime,
    responseTime: newest.responseTime,
    size: part.length,
  });
  try {
    const body = await openPieces(
      store,
      held,
      segments.map((segment) => ({ segment })),
    );
    await pipeline(body, writer.body);
    const complete = await writer.commit();
    await Promise.all(held.map((entry) => store.delete(entry.key, entry.variant)));
    return complete;
  } catch {
    writer.abort();
    return undefined;
  }
}

/**
 * Keeps the parts of the representation a request with `reqHeaders` selects in order, after a
 * part or a complete response of `key` was stored for it: beside a complete response the same
 * request selects, parts go; otherwise parts of another representation go (RFC 9111 §3.4: a part whose
 * validator differs is outdated), so do parts another part holds entirely, and parts that add up
 * become the complete entry. Resolves with that entry when one was written. Never rejects: what
 * it could not do leaves parts that are merely unused.
 */
export async function settleParts(
  store: Store,
  key: string,
  reqHeaders: HeaderMap,
  committed: EntryMeta,
): Promise<EntryMeta | undefined> {
  try {
    // After a complete response, only when the key may have parts (a store that cannot tell without I/O is asked).
    // Inside the try: the store may have closed since the commit (shutdown), and peekSync then throws.
    const known = hasSyncLookup(store) ? store.peekSync(key) : undefined;
    if (committed.part === undefined && known !== undefined && !known.some((entry) => entry.part !== undefined)) {
      return undefined;
    }
    const variants = await store.lookup(key);
    const { held, outdated } = selectParts(variants, reqHeaders);
    const newest = held[0];
    if (newest === undefined) return undefined;
    // A complete response the same request selects (its variant, or the identity copy of a
    // response stored compressed, whose variant is the cache's own split) holds every byte.
    const beside = selectVariantOrIdentity(variants, reqHeaders) !== undefined;
    const gone = beside ? [...held, ...outdated] : [...outdated, ...redundantParts(held)];
    await Promise.all(gone.map((entry) => store.delete(entry.key, entry.variant)));
    if (beside) return undefined;
    const kept = held.filter((entry) => !gone.includes(entry));
    return isWhole(kept.map((entry) => entry.part)) ? await assembleParts(store, kept) : undefined;
  } catch {
    return undefined;
  }
}
