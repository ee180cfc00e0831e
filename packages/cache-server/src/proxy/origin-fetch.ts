import type { EntryMeta, HeaderMap } from '@simple-cache/common';
import type { OriginResponse } from '../origin/origin-client.js';
import {
  conditionalHeaders,
  decideStorable,
  freshenWithNotModified,
  matchesVariant,
  notModifiedMatches,
  secondaryKey,
  storedResponseHeaders,
  varyNames,
  type RequestView,
  type StorabilityDecision,
} from '../policy/index.js';
import type { EntryWriter } from '../store/store.js';
import type { ProxyDeps } from './context.js';
import { FanOut } from './fan-out.js';

/** Bytes of a body kept for clients that join a fetch after it started flowing. */
const REPLAY_LIMIT = 1024 * 1024;

/** The origin sent a full response: its body flows through `fanOut` to the store and to clients. */
export interface FetchedResponse {
  kind: 'response';
  response: OriginResponse;
  storability: StorabilityDecision;
  /** The entry as it will be stored (undefined when not storable). */
  entry: Omit<EntryMeta, 'bodyId' | 'checksum'> | undefined;
  fanOut: FanOut;
  /** Resolves with the stored entry once committed, or undefined when not stored. */
  stored: Promise<EntryMeta | undefined>;
}

/** The origin confirmed a stale entry (304): the entry is freshened and stored again. */
export interface Revalidated {
  kind: 'revalidated';
  entry: EntryMeta;
  response: OriginResponse;
}

export type FetchOutcome = FetchedResponse | Revalidated;

/** One request to the origin on behalf of every client that asked for the same key meanwhile. */
export interface OriginFetch {
  key: string;
  outcome: Promise<FetchOutcome>;
  /** May a client with these request headers share this fetch's response? */
  canShare(outcome: FetchOutcome, view: RequestView): boolean;
}

/**
 * Starts a GET for `key` (a HEAD from the client is fetched as GET so the body can be stored,
 * as nginx does). With a `stale` entry the request is conditional (RFC 9111 §4.3.1).
 */
export function startOriginFetch(
  deps: ProxyDeps,
  key: string,
  view: RequestView,
  forwardHeaders: HeaderMap,
  stale: EntryMeta | undefined,
): OriginFetch {
  const outcome = (async (): Promise<FetchOutcome> => {
    const headers = stale ? { ...forwardHeaders, ...conditionalHeaders(stale) } : forwardHeaders;
    const response = await deps.origin.request({ method: 'GET', url: key, headers });
    if (stale && response.status === 304 && notModifiedMatches(stale, response)) {
      response.body.resume();
      const entry = freshenWithNotModified(stale, response, response.requestTime, response.responseTime);
      await deps.store
        .updateMeta(entry)
        .catch((error: unknown) => deps.logger.warn({ err: error, key }, 'could not store revalidated metadata'));
      return { kind: 'revalidated', entry, response };
    }
    const storability = decideStorable({ method: 'GET', headers: view.headers }, response, deps.policy);
    let entry: FetchedResponse['entry'];
    let writer: EntryWriter | undefined;
    if (storability.storable) {
      entry = describeEntry(deps, key, view, response);
      writer = beginWrite(deps, entry);
    } else if (stale && response.status < 500) {
      // The origin answered with a newer response that may not be stored: the old one is outdated.
      void deps.store.delete(key, stale.variant).catch(() => {});
    }
    const fanOut = new FanOut(response.body, REPLAY_LIMIT);
    if (writer) fanOut.add(writer.body, { end: false });
    const stored = commitWhenDone(deps, key, fanOut, writer);
    // Let every client already waiting for this outcome attach before the first byte flows.
    setImmediate(() => fanOut.start());
    return { kind: 'response', response, storability, entry, fanOut, stored };
  })();
  outcome.catch(() => {});
  return {
    key,
    outcome,
    canShare(result, other) {
      if (result.kind === 'revalidated') return matchesVariant(result.entry, other.headers);
      // An uncacheable response is one client's: others make their own request (hit-for-pass).
      if (!result.entry) return false;
      return matchesVariant(result.entry as EntryMeta, other.headers);
    },
  };
}

function describeEntry(
  deps: ProxyDeps,
  key: string,
  view: RequestView,
  response: OriginResponse,
): Omit<EntryMeta, 'bodyId' | 'checksum'> {
  const vary = varyNames(response.headers);
  const { variant, varyValues } = secondaryKey(vary, view.headers);
  const headers = storedResponseHeaders(response.headers, deps.policy.targetedField);
  const length = Number(response.headers['content-length']);
  return {
    key,
    variant,
    vary,
    varyValues,
    status: response.status,
    headers,
    requestTime: response.requestTime,
    responseTime: response.responseTime,
    size: Number.isSafeInteger(length) && length >= 0 ? length : -1,
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

async function commitWhenDone(
  deps: ProxyDeps,
  key: string,
  fanOut: FanOut,
  writer: EntryWriter | undefined,
): Promise<EntryMeta | undefined> {
  try {
    await fanOut.done;
  } catch (error) {
    writer?.abort(error as Error);
    return undefined;
  }
  if (!writer || writer.body.destroyed) return undefined;
  try {
    return await writer.commit();
  } catch (error) {
    deps.logger.warn({ err: error, key }, 'entry not stored');
    return undefined;
  }
}
