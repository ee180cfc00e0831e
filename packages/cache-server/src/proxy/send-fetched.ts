import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CacheStatusForward, EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import type { HeaderMap } from '@simple-cache/common';
import { pauseIdleTimeout } from '../limits/idle-timeout.js';
import { evaluateClientConditional, forwardResponseHeaders } from '../policy/index.js';
import { withCacheHeaders, type Exchange, type ProxyDeps } from './context.js';
import type { FetchedResponse } from './origin-fetch.js';
import { droppedTargetedField } from './policy-options.js';
import { isPartial, planRange, rangeResponseHead, sliceRanges } from './range-serving.js';

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
 */
export async function sendFetched(
  exchange: Exchange,
  deps: ProxyDeps,
  fetched: FetchedResponse,
  outcome: FetchedOutcome,
): Promise<boolean> {
  const { res, view } = exchange;
  const { response, entry } = fetched;
  const headers = withCacheHeaders(
    forwardResponseHeaders(response.headers, droppedTargetedField(deps.policy)),
    deps,
    outcome.expired ? X_CACHE.expired : X_CACHE.miss,
    {
      fwd: outcome.fwd,
      fwdStatus: response.status,
      stored: entry !== undefined,
      collapsed: outcome.collapsed || undefined,
      detail: entry ? undefined : fetched.storability.reason,
    },
  );
  // Set-Cookie is for the client whose request fetched the response, never for those collapsed onto it.
  if (outcome.collapsed) delete headers['set-cookie'];

  // The client's own If-None-Match / If-Modified-Since, checked against the new response.
  if (entry && evaluateClientConditional(view, entry as EntryMeta) === 'not-modified') {
    for (const name of ['content-length', 'content-type', 'content-encoding', 'transfer-encoding'])
      delete headers[name];
    res.writeHead(304, headers as Record<string, string>);
    res.end();
    return true;
  }
  // The client's Range is cut from the complete response as it streams (range-serving.ts).
  const size = announcedLength(response.headers);
  const plan = planRange(view, response.status, response, size);
  const head = rangeResponseHead(plan, response.status, size, headers);
  if (view.method === 'HEAD' || plan.kind === 'unsatisfiable') {
    res.writeHead(head.status, head.headers as Record<string, string>);
    res.end();
    return true;
  }

  const body = isPartial(plan) ? sliceRanges(plan) : new PassThrough();
  // Detached from the live fetch (too slow), it waits for the stored entry: not idle by its own doing.
  if (!fetched.fanOut.add(body, { end: true, onWait: pauseIdleTimeout(res.socket) })) return false;
  res.writeHead(head.status, head.headers as Record<string, string>);
  res.once('close', () => {
    // The client left: stop feeding it, the fetch itself goes on for the store and the others.
    if (!res.writableFinished) body.destroy();
  });
  try {
    await pipeline(body, res);
  } catch {
    if (fetched.fanOut.error) {
      exchange.log.warn({ err: fetched.fanOut.error }, 'origin body failed mid-stream; connection closed');
    }
    res.destroy();
  }
  return true;
}

/** Content-Length as a byte count; -1 when absent or not a valid length. */
function announcedLength(headers: HeaderMap): number {
  const length = Number(headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : -1;
}
