import { finished, pipeline } from 'node:stream/promises';
import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import { ERRORS } from '../../errors.js';
import { pauseIdleTimeout } from '../../limits/idle-timeout.js';
import { evaluateClientConditional, isCompressedCopy, isSelectedByCoding } from '../../policy/index.js';
import { STORE_ERROR_CODES } from '../../store/store-errors.js';
import type { Exchange, ProxyDeps } from '../context.js';
import type { FetchedResponse } from '../collapse/origin-fetch.js';
import { contentLengthOf, decodedHead, fetchedHead, type FetchedAs } from './heads.js';
import { decoderFor, needsDecoding } from './decode.js';
import { isPartial, planRange, sliceRanges, WHOLE } from './range-serving.js';
import { writeHead } from './write-head.js';
import { sendHeadNow } from './protocol.js';

export interface FetchedOutcome {
  /** Why the request went to the origin (RFC 9211 fwd). */
  fwd: CacheStatusForward;
  /** A stale entry was replaced by a full response (nginx's EXPIRED). */
  expired: boolean;
  collapsed: boolean;
}

/**
 * Streams a response the origin is sending right now to one client, while the same bytes go to
 * the store (and to other collapsed clients). Returns false when this client joined too late to
 * be served from the first byte; the caller then serves it from the store once committed.
 * 'refetch': another node's write this client followed ended before its first byte, and nothing
 * was sent: the caller asks the origin for it.
 */
export async function sendFetched(
  exchange: Exchange,
  deps: ProxyDeps,
  fetched: FetchedResponse,
  outcome: FetchedOutcome,
): Promise<boolean | 'refetch'> {
  const { res, view } = exchange;
  const { response, entry } = fetched;
  // RFC 9211 §2.6 `stored` only while the store is taking the body (not when it refused it).
  const refusal = fetched.storeRefusal();
  if (entry && refusal === undefined && fetched.rule !== undefined) exchange.outcome.rule = fetched.rule;
  const as: FetchedAs = {
    xCache: outcome.expired ? X_CACHE.expired : X_CACHE.miss,
    status: {
      fwd: outcome.fwd,
      fwdStatus: response.status,
      stored: entry !== undefined && refusal === undefined,
      collapsed: outcome.collapsed || undefined,
      // Not stored: why not; stored with a rule's lifetime: the rule's name.
      detail: entry ? (refusal ?? fetched.rule) : fetched.storability.reason,
    },
    collapsed: outcome.collapsed,
    // A rule's strip-cookies: the path serves the same bytes to everybody, Set-Cookie to nobody.
    stripCookies: exchange.rules.stripCookies !== undefined,
    varyOnCoding: fetched.compressed === true || (entry !== undefined && entry.vary.includes('accept-encoding')),
    compressedCopy: entry !== undefined && isCompressedCopy(entry),
    selectedByCoding: entry !== undefined && isSelectedByCoding(entry),
  };
  // The client's own If-None-Match / If-Modified-Since, checked against the new response.
  if (entry && evaluateClientConditional(view, entry as EntryMeta) === 'not-modified') {
    const head = fetchedHead(response, as, { kind: 'not-modified' }, deps.heads);
    writeHead(exchange, head);
    res.end();
    return true;
  }
  // A coding the client does not take (the origin compressed without Vary): decoded as it streams.
  const decoding = needsDecoding(view, response.headers['content-encoding']);
  // The client's Range is cut from the complete response as it streams (respond/range-serving.ts).
  const plan = decoding ? WHOLE : planRange(view, response.status, response, contentLengthOf(response.headers) ?? -1);
  const fetchedAs = fetchedHead(response, as, plan, deps.heads);
  const head = decoding ? decodedHead(fetchedAs) : fetchedAs;
  if (view.method === 'HEAD' || plan.kind === 'unsatisfiable') {
    writeHead(exchange, head);
    res.end();
    return true;
  }

  // Another node's write (its origin, its store) may end before its first byte: until that byte
  // is here nothing goes out, so that the client can still be answered from the origin.
  if (fetched.followed && !(await fetched.fanOut.firstBytes())) return 'refetch';
  // Joined after bytes past the replay limit have flowed: the caller serves it from the store.
  if (!fetched.fanOut.canJoin()) return false;
  // Detached from the live fetch (too slow), it waits for the stored entry: not idle by its own doing.
  const onWait = pauseIdleTimeout(res);
  // …and when that entry is not there to continue from, the cut is logged and the Outcome says it.
  const onLost = (error: Error, offset: number) => {
    const code = (error as { code?: unknown }).code;
    exchange.outcome.errorCode =
      typeof code === 'string' && code.startsWith('CACHE_ERR_') ? code : STORE_ERROR_CODES.entryGone;
    exchange.log.error(
      { err: error, key: exchange.key, offset, code: exchange.outcome.errorCode },
      'a client detached from a fetch could not continue from the store: its response is cut short',
    );
  };
  writeHead(exchange, head);
  // The head goes out now, not with the first body chunk: the client's first byte does not wait
  // for the fan-out to start (next turn of the loop) and the chunk to pass the store writer.
  sendHeadNow(res);
  // The decoder's own failure (the origin's coding is corrupt), told apart from a client leaving.
  let undecodable: Error | undefined;
  try {
    if (decoding) {
      const body = decoderFor(String(response.headers['content-encoding']));
      body.once('error', (error) => (undecodable = error));
      fetched.fanOut.add(body, { end: true, onWait, onLost });
      res.once('close', () => {
        if (!res.writableFinished) body.destroy();
      });
      await pipeline(body, res);
    } else if (isPartial(plan)) {
      const body = sliceRanges(plan);
      fetched.fanOut.add(body, { end: true, onWait, onLost });
      res.once('close', () => {
        // The client left: stop feeding it, the fetch itself goes on for the store and the others.
        if (!res.writableFinished) body.destroy();
      });
      await pipeline(body, res);
    } else {
      // The whole body: the fan-out writes into the response itself, with no stream in between
      // (each one costs a copy of the stream machinery per chunk). A client that leaves closes
      // the response, which takes it off the fan-out.
      fetched.fanOut.add(res, { end: true, onWait, onLost });
      await finished(res);
    }
  } catch {
    if (fetched.fanOut.error) {
      exchange.log.warn({ err: fetched.fanOut.error }, 'origin body failed mid-stream; connection closed');
    } else if (undecodable !== undefined) {
      exchange.outcome.errorCode = ERRORS.originBadResponse.code;
      exchange.log.warn(
        { err: undecodable, code: ERRORS.originBadResponse.code, coding: response.headers['content-encoding'] },
        "the origin's content coding did not decode; connection closed",
      );
    }
    res.destroy();
  }
  return true;
}
