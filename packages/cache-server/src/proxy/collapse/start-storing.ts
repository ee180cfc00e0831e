import { Readable } from 'node:stream';
import type { EntryMeta, EntryPart } from '@simple-cache/common';
import type { OriginResponse } from '../../origin/origin-client.js';
import {
  decideCompression,
  markStale,
  secondaryKey,
  storedResponseHeaders,
  toPartEntry,
  varyNames,
  type CompressionOptions,
  type StorabilityDecision,
} from '../../policy/index.js';
import { settleParts } from '../../store/partial-bodies.js';
import type { EntryWriter } from '../../store/store.js';
import { policyFor, type ProxyDeps } from '../context.js';
import { contentLengthOf } from '../respond/heads.js';
import { FanOut, type Continuation } from './fan-out.js';
import type { FetchedResponse, FetchTarget } from './origin-fetch.js';
import { asIdentityVariant, storeCompressedCopies } from './stored-codings.js';

/** Bytes of a body kept for clients that join a fetch after it started flowing. */
export const REPLAY_LIMIT = 1024 * 1024;

/**
 * What purges made of a fetch in flight (in-flight.ts): an entry `dropped` picks is not
 * committed (a purge removed what the fetch brings); one `softened` picks is marked stale as it
 * is committed (a soft purge: it may predate the purge, so the next request revalidates it).
 */
export interface PurgedFetch {
  dropped(entry: Pick<EntryMeta, 'key' | 'headers'>): boolean;
  softened(entry: Pick<EntryMeta, 'key' | 'headers'>): boolean;
}

/**
 * Sets the body of `response` flowing through a fan-out: into the store when `storability`
 * allows (the entry becomes visible once complete), and to whichever clients attach before the
 * first byte flows (on the next turn of the event loop).
 */
export function startStoring(
  deps: ProxyDeps,
  target: FetchTarget,
  response: OriginResponse,
  storability: StorabilityDecision & { range?: Omit<EntryPart, 'variant'> },
  purged: PurgedFetch,
): Pick<FetchedResponse, 'entry' | 'fanOut' | 'stored' | 'storeRefusal' | 'compressed'> {
  const { key, view } = target;
  const described = storability.storable ? describeEntry(deps, target, response) : undefined;
  // Compressed once, as it is stored, whoever fetched it: the next client may take br or gzip
  // (never a 206: decideCompression refuses it).
  const compress = described !== undefined && decideCompression(response, compressionOptions(deps)).compress;
  // RFC 9111 §3.3: a 206 is stored as a part, under a variant of its own.
  const { range } = storability;
  const entry =
    described && range
      ? toPartEntry(described, range)
      : described && compress
        ? asIdentityVariant(described, view.headers)
        : described;
  const writer = entry ? beginWrite(deps, entry) : undefined;
  // Not stored, its response is this fetch's clients' alone (origin-fetch.ts mayShare).
  const fanOut = new FanOut(response.body, { replayLimit: REPLAY_LIMIT, onlyItsClients: entry === undefined });
  // A client that falls behind continues from the stored entry (fan-out.ts), so it never slows the rest.
  if (writer && entry)
    fanOut.addStore(
      writer.body,
      continuationFromStore(
        deps,
        entry,
        () => stored,
        () => settled.then(({ complete }) => complete),
      ),
    );
  const compressed = compress && entry !== undefined && writer !== undefined && writer.refused === undefined;
  const afterCommit = (committed: EntryMeta) => softenIfPurged(deps, target, purged, committed);
  if (compressed && entry)
    void storeCompressedCopies(deps, entry, view.headers, fanOut, () => purged.dropped(entry), afterCommit);
  const settled = commitWhenDone(
    deps,
    key,
    fanOut,
    writer && entry ? { writer, dropped: () => purged.dropped(entry), afterCommit } : undefined,
  ).then(async (committed): Promise<Settled> => {
    if (!committed) return {};
    // RFC 9111 §3.3–3.4: a new part may outdate or complete others; a complete response ends its variant's parts.
    return { committed, complete: await settleParts(deps.store, key, target.view.headers, committed) };
  });
  const stored = settled.then(({ committed }) => committed);
  // Let every client already waiting for this outcome attach before the first byte flows.
  setImmediate(() => fanOut.start());
  const storeRefusal = () => {
    if (!entry) return undefined;
    if (!writer) return 'CACHE_ERR_WRITE_ABORTED';
    if (writer.refused !== undefined) return writer.refused;
    return writer.body.destroyed && !writer.body.writableFinished ? 'CACHE_ERR_WRITE_ABORTED' : undefined;
  };
  return { entry, fanOut, stored, storeRefusal, compressed };
}

function compressionOptions(deps: ProxyDeps): CompressionOptions {
  const { config } = deps;
  return { enabled: config.compress, types: config.compressTypes, minSize: config.compressMinSize };
}

/** What a fetch left in the store: its entry, and the complete entry a part of it completed (RFC 9111 §3.4). */
interface Settled {
  committed?: EntryMeta;
  complete?: EntryMeta | undefined;
}

/**
 * Where a detached client continues: the committed entry's body from its offset (fan-out.ts);
 * for a part that completed its representation (and was deleted for it), the same bytes of the
 * complete entry `completed` gives.
 */
export function continuationFromStore(
  deps: ProxyDeps,
  entry: Omit<EntryMeta, 'bodyId' | 'checksum'>,
  stored: () => Promise<EntryMeta | undefined>,
  completed: () => Promise<EntryMeta | undefined> = () => Promise.resolve(undefined),
): { continueFrom: Continuation; limit: number } {
  // The largest body the store keeps: one announced larger is never stored, so nobody can continue from it.
  const maxSize = Math.min(deps.store.maxObjectSize ?? Infinity, deps.store.stats().maxSize);
  return {
    limit: entry.size > maxSize ? -1 : maxSize,
    continueFrom: async (offset) => {
      const committed = await stored();
      if (!committed) return undefined;
      if (offset >= committed.size) return Readable.from([]);
      const complete = committed.part ? await completed() : undefined;
      if (complete && committed.part) {
        const { start } = committed.part;
        return deps.store.openBody(complete, { start: start + offset, end: start + committed.size - 1 });
      }
      return deps.store.openBody(committed, { start: offset, end: committed.size - 1 });
    },
  };
}

/**
 * The entry to store. A rule's `key.headers` join the response's Vary: the stored variant is
 * selected by their values too (RFC 9111 §4.1's machinery), while the client sees the origin's
 * Vary as it was.
 */
function describeEntry(
  deps: ProxyDeps,
  { key, view, rules }: FetchTarget,
  response: OriginResponse,
): Omit<EntryMeta, 'bodyId' | 'checksum'> {
  const fromResponse = varyNames(response.headers);
  const vary = rules.keyHeaders.length === 0 ? fromResponse : [...new Set([...fromResponse, ...rules.keyHeaders])];
  const { variant, varyValues } = secondaryKey(vary, view.headers);
  const headers = storedResponseHeaders(response.headers, deps.policy);
  return {
    key,
    variant,
    vary,
    varyValues,
    status: response.status,
    headers,
    requestTime: response.requestTime,
    responseTime: response.responseTime,
    size: contentLengthOf(response.headers) ?? -1,
  };
}

function beginWrite(deps: ProxyDeps, entry: Omit<EntryMeta, 'bodyId' | 'checksum'>): EntryWriter | undefined {
  try {
    const writer = deps.store.beginWrite(entry);
    // A failing disk must never fail the client: log, drop the write, keep streaming.
    writer.body.on('error', (error) => deps.logger.warn({ err: error, key: entry.key }, 'store write failed'));
    return writer;
  } catch (error) {
    deps.logger.warn({ err: error, key: entry.key }, 'store refused the write');
    return undefined;
  }
}

/**
 * A soft purge came while the fetch was in flight (PurgedFetch): `committed` is marked stale
 * now, before anyone is told it is stored, so the purge holds for it as for what was stored
 * before (admin/purge-entries.ts). Resolves with the entry as it now is.
 */
export async function softenIfPurged(
  deps: ProxyDeps,
  target: FetchTarget,
  purged: PurgedFetch,
  committed: EntryMeta,
): Promise<EntryMeta> {
  if (!purged.softened(committed)) return committed;
  const stale = markStale(committed, Date.now(), policyFor(target, committed.status));
  if (stale === undefined) return committed;
  try {
    await deps.store.updateMeta(stale);
    return stale;
  } catch (error) {
    deps.logger.warn({ err: error, key: committed.key }, 'could not mark an entry stored after a soft purge stale');
    return committed;
  }
}

/** Commits the entry once the whole body went by, unless the fetch was abandoned meanwhile. */
async function commitWhenDone(
  deps: ProxyDeps,
  key: string,
  fanOut: FanOut,
  write:
    | { writer: EntryWriter; dropped: () => boolean; afterCommit: (committed: EntryMeta) => Promise<EntryMeta> }
    | undefined,
): Promise<EntryMeta | undefined> {
  const writer = write?.writer;
  try {
    await fanOut.done;
  } catch (error) {
    writer?.abort(error as Error);
    return undefined;
  }
  if (!writer || writer.body.destroyed) return undefined;
  if (write?.dropped()) {
    writer.abort(new Error('the fetch was abandoned (a purge or an unsafe request) before its entry was committed'));
    return undefined;
  }
  let committed: EntryMeta;
  try {
    committed = await writer.commit();
  } catch (error) {
    deps.logger.warn({ err: error, key }, 'entry not stored');
    return undefined;
  }
  return write.afterCommit(committed);
}
