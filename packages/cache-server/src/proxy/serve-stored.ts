import { pipeline } from 'node:stream/promises';
import type { CacheStatusInfo, EntryMeta, XCache } from '@simple-cache/common';
import { sendsItself } from '../store/body-file-stream.js';
import {
  clientResponseHeaders,
  evaluateClientConditional,
  fieldNamesOf,
  notModifiedHead,
  responseDirectives,
} from '../policy/index.js';
import { withCacheHeaders, type Exchange, type ProxyDeps } from './context.js';
import { droppedTargetedField } from './policy-options.js';
import { isPartial, openStoredRanges, planRange, rangeResponseHead } from './respond/range-serving.js';

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
      targetedField: droppedTargetedField(deps.policy),
    }),
    deps,
    outcome.xCache,
    outcome.status,
  );

  const conditional = evaluateClientConditional(view, entry);
  // RFC 9111 §4.3.2: If-Match / If-Unmodified-Since are the origin's to evaluate.
  if (conditional === 'forward') return 'forward';
  if (conditional === 'not-modified') {
    res.writeHead(304, notModifiedHead(headers) as Record<string, string>);
    res.end();
    return 'served';
  }

  const plan = planRange(view, entry.status, entry, entry.size);
  if (!hasNoBody(entry.status)) headers['content-length'] = String(entry.size);
  const head = rangeResponseHead(plan, entry.status, entry.size, headers);
  if (view.method === 'HEAD' || hasNoBody(head.status) || entry.size === 0 || plan.kind === 'unsatisfiable') {
    res.writeHead(head.status, head.headers as Record<string, string>);
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
  res.writeHead(head.status, head.headers as Record<string, string>);
  try {
    // A body file writes itself (reused buffers) instead of a stream's fresh buffer per chunk.
    await (sendsItself(body) ? body.sendTo(res) : pipeline(body, res));
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
