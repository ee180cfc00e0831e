import { pipeline } from 'node:stream/promises';
import type { CacheStatusInfo, EntryMeta, XCache } from '@simple-cache/common';
import {
  clientResponseHeaders,
  contentRange,
  evaluateClientConditional,
  fieldNamesOf,
  ifRangeAllows,
  parseRange,
  responseDirectives,
} from '../policy/index.js';
import type { ByteRange } from '../store/store.js';
import { withCacheHeaders, type Exchange, type ProxyDeps } from './context.js';

export interface StoredOutcome {
  xCache: XCache;
  status: CacheStatusInfo;
  /** Current age in seconds (RFC 9111 §4.2.3). */
  age: number;
  /** True when served without contacting the origin: no-cache/private field names are then stripped. */
  withoutValidation: boolean;
}

/** Statuses whose responses carry no body (RFC 9110 §6.4.1). */
function hasNoBody(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Answers from a stored entry: the client's own conditionals (304/412), ranges (206/416) and
 * HEAD are resolved against the entry. Returns 'unusable' when the body could not be opened
 * (entry gone or corrupt) and 'forward' when the request carries preconditions only the origin
 * may evaluate; in both cases nothing was sent.
 */
export async function serveStored(
  exchange: Exchange,
  deps: ProxyDeps,
  entry: EntryMeta,
  outcome: StoredOutcome,
): Promise<'served' | 'unusable' | 'forward'> {
  const { res, view } = exchange;
  deps.store.markUsed(entry);
  const headers = withCacheHeaders(
    clientResponseHeaders(entry, {
      age: outcome.age,
      stripFields: strippedFields(entry, deps, outcome.withoutValidation),
      targetedField: deps.policy.targetedField,
    }),
    deps,
    outcome.xCache,
    outcome.status,
  );

  const conditional = evaluateClientConditional(view, entry);
  // RFC 9111 §4.3.2: If-Match / If-Unmodified-Since are the origin's to evaluate.
  if (conditional === 'forward') return 'forward';
  if (conditional === 'not-modified') {
    // RFC 9110 §15.4.5: a 304 carries the validators and caching fields, not the content ones.
    delete headers['content-length'];
    delete headers['content-type'];
    delete headers['content-encoding'];
    delete headers['content-range'];
    res.writeHead(304, headers as Record<string, string>);
    res.end();
    return 'served';
  }

  let range: ByteRange | undefined;
  let status = entry.status;
  if (!hasNoBody(status)) headers['content-length'] = String(entry.size);
  if (status === 200 && view.headers.range !== undefined && ifRangeAllows(view, entry)) {
    const ranges = parseRange(view.headers.range as string, entry.size);
    if (ranges === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${entry.size}`, 'content-length': '0' } as Record<
        string,
        string
      >);
      res.end();
      return 'served';
    }
    // Several ranges are served as the whole body (allowed: RFC 9110 §14.2), one as 206.
    if (ranges && ranges.length === 1) {
      range = ranges[0] as ByteRange;
      status = 206;
      headers['content-range'] = contentRange(range, entry.size);
      headers['content-length'] = String(range.end - range.start + 1);
    }
  }
  if (status === 200 || status === 206) headers['accept-ranges'] = 'bytes';

  if (view.method === 'HEAD' || hasNoBody(status) || entry.size === 0) {
    res.writeHead(status, headers as Record<string, string>);
    res.end();
    return 'served';
  }
  let body;
  try {
    body = await deps.store.openBody(entry, range);
  } catch (error) {
    exchange.log.warn({ err: error, key: entry.key }, 'stored body unusable; fetching again');
    return 'unusable';
  }
  res.writeHead(status, headers as Record<string, string>);
  try {
    await pipeline(body, res);
  } catch (error) {
    if (!res.destroyed || res.writableFinished) exchange.log.warn({ err: error }, 'stored body failed mid-stream');
    res.destroy();
  }
  return 'served';
}

/**
 * Fields a shared cache must not hand out from storage: those named by private="…" never
 * (RFC 9111 §5.2.2.7), those named by no-cache="…" unless just validated (§5.2.2.4).
 */
function strippedFields(entry: EntryMeta, deps: ProxyDeps, withoutValidation: boolean): string[] {
  const directives = responseDirectives(entry.headers, deps.policy.targetedField);
  const privateFields = fieldNamesOf(directives.get('private'));
  return withoutValidation ? [...privateFields, ...fieldNamesOf(directives.get('no-cache'))] : privateFields;
}
