import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import { sendsItself } from '../../store/body-file-stream.js';
import { currentAge, evaluateClientConditional, freshnessLifetime } from '../../policy/index.js';
import { ERRORS } from '../../errors.js';
import { policyFor, type Exchange, type ProxyDeps } from '../context.js';
import { decodedHead, hasNoBody, storedHead, type StoredAs } from './heads.js';
import { decodeStream, needsDecoding } from './decode.js';
import { isPartial, openStoredRanges, planRange, WHOLE } from './range-serving.js';
import { sendError } from './send-error.js';
import { writeHead } from './write-head.js';

/**
 * Answers from a stored entry: the client's own conditionals (304/412), ranges (206/416) and
 * HEAD are resolved against the entry. Returns 'unusable' when the body could not be opened
 * (entry gone or corrupt) and 'forward' when the request carries preconditions only the origin
 * may evaluate; in both cases nothing was sent.
 */
export async function sendStored(
  exchange: Exchange,
  deps: ProxyDeps,
  entry: EntryMeta,
  outcome: StoredAs,
): Promise<'served' | 'unusable' | 'forward'> {
  const { res, view } = exchange;
  deps.store.markUsed(entry);
  const conditional = evaluateClientConditional(view, entry);
  // RFC 9111 §4.3.2: If-Match / If-Unmodified-Since are the origin's to evaluate.
  if (conditional === 'forward') return 'forward';
  if (conditional === 'not-modified') {
    const head = storedHead(entry, outcome, { kind: 'not-modified' }, deps.heads);
    writeHead(exchange, head);
    res.end();
    return 'served';
  }

  // A coding the client does not take (the origin compressed without Vary): decoded on the fly, whole.
  const decoding = needsDecoding(view, entry.headers['content-encoding']);
  const plan = decoding ? WHOLE : planRange(view, entry.status, entry, entry.size);
  const stored = storedHead(entry, outcome, plan, deps.heads);
  const head = decoding ? decodedHead(stored) : stored;
  if (view.method === 'HEAD' || hasNoBody(head.status) || entry.size === 0 || plan.kind === 'unsatisfiable') {
    writeHead(exchange, head);
    res.end();
    return 'served';
  }
  let body;
  try {
    body = isPartial(plan) ? await openStoredRanges(deps.store, entry, plan) : await deps.store.openBody(entry);
  } catch (error) {
    exchange.log.warn({ err: error, key: entry.key }, 'stored body unusable; fetching again');
    return 'unusable';
  }
  if (decoding) {
    body = decodeStream(body, String(entry.headers['content-encoding']));
    // The head waits for the first decoded bytes: a body the origin stored in a coding that does
    // not decode (a corrupt gzip) is a 502 with its code and a log line, where writing the head
    // first made it an empty reply with the connection closed, silently, to every client that
    // does not take the coding (plain curl and wget send no Accept-Encoding).
    const undecodable = await firstBytesOf(body);
    if (undecodable !== undefined) {
      sendError(exchange, deps, ERRORS.originBadResponse, undecodable, outcome.status, outcome.xCache);
      return 'served';
    }
  }
  writeHead(exchange, head);
  try {
    // A body file writes itself (reused buffers) instead of a stream's fresh buffer per chunk.
    await (sendsItself(body) ? body.sendTo(res) : pipeline(body, res));
  } catch (error) {
    if (!res.destroyed || res.writableFinished) exchange.log.warn({ err: error }, 'stored body failed mid-stream');
    res.destroy();
  }
  return 'served';
}

/** RFC 9211 §2.5 ttl: freshness lifetime less current age, in seconds (negative when stale), under the exchange's rules. */
export function storedTtl(exchange: Exchange, entry: EntryMeta): number {
  return freshnessLifetime(entry, policyFor(exchange, entry.status)).lifetime - currentAge(entry, Date.now());
}

/** Resolves when `body` has bytes to read or has ended; with the error if it fails first. */
async function firstBytesOf(body: Readable): Promise<Error | undefined> {
  try {
    await once(body, 'readable');
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
