import { constants, createBrotliCompress, createGzip, type BrotliCompress, type Gzip } from 'node:zlib';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import { ACCEPT_ENCODING, secondaryKey, STORED_CODINGS, type Coding, type StoredCoding } from '../../policy/index.js';
import type { EntryWriter } from '../../store/store.js';
import type { ProxyDeps } from '../context.js';
import type { FanOut } from './fan-out.js';

/**
 * Compression, stored once (issue 18): a compressible response is stored as one variant per
 * coding the cache serves, selected by the request's negotiated coding (policy/content-coding.ts
 * makes Accept-Encoding's selecting value br, gzip or identity). The identity body is stored as
 * any response is; each compressed copy is made by a zlib stream fed by the same fan-out as the
 * store writer, as the body arrives (never buffered whole), and stored as its own entry. Hits
 * are then served from the stored bytes, with no compression per request, by the fast path too.
 */

type NewEntry = Omit<EntryMeta, 'bodyId' | 'checksum'>;

/**
 * brotli quality 6 (nginx's brotli default) and gzip level 6 (zlib's): about 1 ms for a 64 KiB
 * page each, so a miss is not held up; quality 11 would save another ~10 % for ~50 times the CPU.
 */
const BROTLI_QUALITY = 6;
const GZIP_LEVEL = 6;

/**
 * The identity entry of a response the cache compresses: selected by Accept-Encoding, its
 * selecting value `identity`. Its stored fields keep the origin's Vary: a variant split that the
 * stored Vary does not name is the cache's own (policy selectVariantOrIdentity), and heads add
 * Accept-Encoding to what clients see (respond/heads.ts).
 */
export function asIdentityVariant(entry: NewEntry, requestHeaders: HeaderMap): NewEntry {
  return variantFor(entry, requestHeaders, 'identity', entry.headers);
}

/** The variant string a coding's copy of `identity` is stored under. */
export function codingVariant(identity: NewEntry, requestHeaders: HeaderMap, coding: StoredCoding): string {
  return variantFor(identity, requestHeaders, coding, identity.headers).variant;
}

/**
 * Starts one compressed copy per stored coding, fed by `fanOut` (each paces the flow as the
 * store writer does). A copy is committed once its compressor has flushed, unless the fetch was
 * dropped meanwhile or it came out no smaller than the identity body (then the identity variant
 * serves those clients: policy selectVariantOrIdentity); `afterCommit` then sees it (a soft purge
 * meanwhile marks it stale). Resolves when every copy has settled.
 */
export function storeCompressedCopies(
  deps: ProxyDeps,
  identity: NewEntry,
  requestHeaders: HeaderMap,
  fanOut: FanOut,
  dropped: () => boolean,
  afterCommit: (committed: EntryMeta) => Promise<unknown>,
): Promise<void> {
  const copies = STORED_CODINGS.map((coding) => {
    const headers: HeaderMap = { ...identity.headers, 'content-encoding': coding };
    delete headers['content-length'];
    // The origin's ETag is kept as it came: a revalidation asks with it and a 304 carrying it
    // selects the copy (RFC 9111 §4.3.4); clients are shown it weak (respond/heads.ts).
    const meta = { ...variantFor(identity, requestHeaders, coding, headers), size: -1 };
    return storeCopy(deps, meta, compressorFor(coding), fanOut, dropped, afterCommit).then(async (committed) => {
      // An older copy of this coding would still be selected over the new identity body: remove it.
      if (!committed) await deps.store.delete(meta.key, meta.variant).catch(() => {});
    });
  });
  return Promise.all(copies).then(() => undefined);
}

function variantFor(entry: NewEntry, requestHeaders: HeaderMap, coding: Coding, headers: HeaderMap): NewEntry {
  const vary = entry.vary.includes(ACCEPT_ENCODING) ? entry.vary : [...entry.vary, ACCEPT_ENCODING];
  // The selecting value is the coding itself: every request that negotiates it shares the copy.
  const { variant, varyValues } = secondaryKey(vary, { ...requestHeaders, [ACCEPT_ENCODING]: coding });
  return { ...entry, vary, variant, varyValues, headers };
}

function compressorFor(coding: StoredCoding): BrotliCompress | Gzip {
  if (coding === 'gzip') return createGzip({ level: GZIP_LEVEL });
  return createBrotliCompress({
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
    },
  });
}

async function storeCopy(
  deps: ProxyDeps,
  meta: NewEntry,
  compressor: BrotliCompress | Gzip,
  fanOut: FanOut,
  dropped: () => boolean,
  afterCommit: (committed: EntryMeta) => Promise<unknown>,
): Promise<boolean> {
  let writer: EntryWriter;
  try {
    writer = deps.store.beginWrite(meta);
  } catch (error) {
    deps.logger.warn({ err: error, key: meta.key }, 'store refused a compressed copy');
    compressor.destroy();
    return false;
  }
  if (writer.refused !== undefined || writer.body.destroyed) {
    compressor.destroy();
    return false;
  }
  writer.body.on('error', (error) => deps.logger.warn({ err: error, key: meta.key }, 'compressed copy not stored'));
  let encodedBytes = 0;
  compressor.on('data', (chunk: Buffer) => (encodedBytes += chunk.length));
  compressor.pipe(writer.body, { end: false });
  fanOut.addPacer(compressor);
  const ended = await new Promise<boolean>((resolve) => {
    compressor.once('end', () => resolve(true));
    compressor.once('error', () => resolve(false));
    compressor.once('close', () => resolve(compressor.readableEnded));
  });
  if (!ended || dropped() || writer.body.destroyed) {
    writer.abort(new Error('the compressed copy was not finished'));
    return false;
  }
  if (encodedBytes >= fanOut.flowedBytes) {
    writer.abort(new Error('compression did not make the body smaller'));
    return false;
  }
  return writer.commit().then(
    async (committed) => {
      await afterCommit(committed);
      return true;
    },
    (error: unknown) => {
      deps.logger.warn({ err: error, key: meta.key }, 'compressed copy not stored');
      return false;
    },
  );
}
