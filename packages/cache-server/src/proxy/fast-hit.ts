import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EntryMeta } from '@simple-cache/common';
import { HEADER, X_CACHE } from '@simple-cache/common';
import {
  appendCacheStatus,
  cacheKey,
  clientResponseHeaders,
  decideUseFrom,
  fieldNamesOf,
  formatCacheStatus,
  NO_REQUEST_DIRECTIVES,
  responseDirectives,
  selectVariant,
  useFacts,
  type UseFacts,
} from '../policy/index.js';
import type { ProxyDeps } from './context.js';
import { withCacheHeaders } from './context.js';
import { droppedTargetedField } from './policy-options.js';

/** The slice of the memory tier a fast hit needs: synchronous, no I/O. */
export interface HotStore {
  peekSync(key: string): readonly Readonly<EntryMeta>[] | undefined;
  getBody(entry: EntryMeta): Buffer | undefined;
  markUsed(entry: EntryMeta): void;
}

/**
 * Request fields that make policy more than "is it fresh": conditionals, ranges, request
 * directives. A request carrying any of them takes the full path.
 */
const NEEDS_FULL_PATH = [
  'cache-control',
  'pragma',
  'range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
] as const;

/** What a hit on one stored response needs that does not change between hits. */
interface Prepared {
  /** What it was built from: a 304 refresh or a new body replaces the stored objects. */
  headers: EntryMeta['headers'];
  body: Buffer;
  /** What decideUse reads from the stored response, parsed once. */
  facts: UseFacts;
  /**
   * Flat [name, value, …] list for writeHead, cheaper than an object Node has to walk. The last
   * two values (Age, Cache-Status) are written per hit: writeHead copies them synchronously.
   */
  head: string[];
  /** Cache-Status members from upstream caches, ours is appended per hit (RFC 9211 §2). */
  upstreamStatus: string | string[] | undefined;
  /** The Cache-Status last sent and its ttl: it changes once a second, not per hit. */
  lastTtl: number;
  lastCacheStatus: string;
}

const MAX_REMEMBERED_TARGETS = 10_000;

/**
 * Answers a fresh hit on a small object held in memory before Fastify's router runs (issue 6:
 * the router and reply path cost 25–50 % of a bare node:http hit). It decides with the same
 * policy functions as the full path and builds the same headers, prepared once per stored
 * response; anything that is not a plain fresh in-memory hit returns false and takes the full
 * path, so behaviour never differs, only cost.
 */
export interface FastHit {
  /** Answers the request if it is a plain fresh in-memory hit; false (nothing sent) otherwise. */
  tryServe(req: IncomingMessage, res: ServerResponse): boolean;
  /** How many requests it answered (stats, and tests proving the path is taken). */
  readonly served: number;
}

export function createFastHit(deps: ProxyDeps, hot: HotStore): FastHit {
  const { config, policy } = deps;
  const adminPrefix = config.adminPrefix === '' ? undefined : config.adminPrefix;
  const keys = new Map<string, string | undefined>();
  // Keyed by the stored objects themselves (peekSync hands them out uncopied): a replaced entry
  // gets a new Prepared, and a dropped one takes its Prepared with it.
  const prepared = new WeakMap<EntryMeta, Prepared>();
  const observer = deps.observer?.onHit ? deps.observer : undefined;
  let served = 0;

  function keyFor(target: string): string | undefined {
    let key = keys.get(target);
    if (key === undefined && !keys.has(target)) {
      key = cacheKey(config.origin, target);
      if (keys.size >= MAX_REMEMBERED_TARGETS) keys.clear();
      keys.set(target, key);
    }
    return key;
  }

  function prepare(entry: EntryMeta, body: Buffer): Prepared {
    const cached = prepared.get(entry);
    if (cached?.body === body && cached.headers === entry.headers) return cached;
    const directives = responseDirectives(entry.headers, policy.targetedField);
    const stripFields = [...fieldNamesOf(directives.get('private')), ...fieldNamesOf(directives.get('no-cache'))];
    const stored = clientResponseHeaders(entry, { age: 0, stripFields, targetedField: droppedTargetedField(policy) });
    const upstreamStatus = stored[HEADER.cacheStatus];
    const headers = withCacheHeaders(stored, deps, X_CACHE.hit, { hit: true });
    delete headers[HEADER.age];
    delete headers[HEADER.cacheStatus];
    headers['content-length'] = String(entry.size);
    if (entry.status === 200) headers['accept-ranges'] = 'bytes';
    const head: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value) head.push(name, item);
      else head.push(name, value);
    }
    head.push(HEADER.age, '', HEADER.cacheStatus, '');
    const facts = useFacts(entry, policy);
    const made = { headers: entry.headers, body, facts, head, upstreamStatus, lastTtl: NaN, lastCacheStatus: '' };
    prepared.set(entry, made);
    return made;
  }

  function cacheStatusFor(made: Prepared, ttl: number): string {
    if (made.lastTtl !== ttl) {
      made.lastCacheStatus = appendCacheStatus(made.upstreamStatus, formatCacheStatus(config.name, { hit: true, ttl }));
      made.lastTtl = ttl;
    }
    return made.lastCacheStatus;
  }

  function tryServe(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const target = req.url ?? '';
    if (adminPrefix !== undefined && target.startsWith(adminPrefix)) return false;
    const headers = req.headers;
    for (const name of NEEDS_FULL_PATH) if (headers[name] !== undefined) return false;
    const key = keyFor(target);
    if (key === undefined) return false;
    const variants = hot.peekSync(key);
    if (variants === undefined || variants.length === 0) return false;
    const entry = selectVariant(variants as EntryMeta[], headers);
    if (entry === undefined || (entry.status !== 200 && entry.status !== 203)) return false;
    const body = hot.getBody(entry);
    if (body === undefined) return false;
    const started = observer ? performance.now() : 0;
    const made = prepare(entry, body);
    const decision = decideUseFrom(NO_REQUEST_DIRECTIVES, made.facts, Date.now());
    if (decision.action !== 'fresh' || decision.reason !== 'fresh') return false;

    const head = made.head;
    head[head.length - 3] = String(decision.age);
    head[head.length - 1] = cacheStatusFor(made, Math.round(decision.ttl));
    res.writeHead(entry.status, head);
    res.end(method === 'HEAD' ? undefined : body);
    hot.markUsed(entry);
    served++;
    observer?.onHit?.(method === 'HEAD' ? 0 : body.length, performance.now() - started);
    return true;
  }

  return {
    tryServe,
    get served() {
      return served;
    },
  };
}
