import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EntryMeta } from '@simple-cache/common';
import { X_CACHE } from '@simple-cache/common';
import {
  ageOf,
  cacheKey,
  decideUseFrom,
  NO_REQUEST_DIRECTIVES,
  selectVariant,
  useFacts,
  type PolicyOptions,
  type UseFacts,
} from '../policy/index.js';
import { lifetimeRule, type RequestRules } from '../rules/index.js';
import type { HotReads, Store } from '../store/store.js';
import type { ProxyDeps } from './context.js';
import type { Outcome } from './outcome.js';
import { needsDecoding } from './respond/decode.js';
import { storedHead, type Head } from './respond/heads.js';
import { flatHeaders } from './respond/write-head.js';
import { WHOLE } from './respond/range-serving.js';
import { AssembledResponses, WireHead } from './respond/wire-head.js';

/** A store with hot reads (the memory tier): a fast hit is synchronous, no I/O. */
export type HotStore = Pick<Store, 'markUsed'> & Pick<HotReads, 'peekSync' | 'getBody'>;

/**
 * Request fields that make policy more than "is it fresh": conditionals, ranges, request
 * directives; and those that announce a body (limits/limits.ts refuses some of them, and a hit
 * never reads one). A request carrying any of them takes the full path.
 */
const FULL_PATH_FIELDS: ReadonlySet<string> = new Set([
  'cache-control',
  'pragma',
  'range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'transfer-encoding',
  'content-length',
]);

/** Bit n set: some name in FULL_PATH_FIELDS is n characters long (all are shorter than 32). */
const FULL_PATH_LENGTHS = [...FULL_PATH_FIELDS].reduce((bits, name) => bits | (1 << name.length), 0);

/**
 * Whether the request carries one of FULL_PATH_FIELDS, in any case, read from the field lines
 * as received: Node builds `req.headers` on first access (a name lowered and an object property
 * per field), which a plain hit on a response that does not vary never needs. Mostly a length
 * test per field; a name is lowered only when its length is one of theirs.
 */
export function carriesFullPathField(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (
      name.length < 32 &&
      ((FULL_PATH_LENGTHS >>> name.length) & 1) === 1 &&
      FULL_PATH_FIELDS.has(name.toLowerCase())
    ) {
      return true;
    }
  }
  return false;
}

/** What a hit on one stored response needs that does not change between hits. */
interface Prepared {
  /**
   * What it was built from: a 304 refresh replaces the stored objects. Not the body: the memory
   * tier may drop it while the entry stays stored, and this must not keep it alive.
   */
  headers: EntryMeta['headers'];
  /** The policy options (the rules' answer for this path and status) `facts` were computed with. */
  policy: Readonly<PolicyOptions>;
  /** What decideUse reads from the stored response, parsed once. */
  facts: UseFacts;
  /** Cache-Status detail: the rule whose ttl made it fresh, if one did. */
  detail: string | undefined;
  /**
   * storedHead()'s answer for `age` (undefined: at that age it is no fresh hit), as writeHead's
   * flat [name, value, …] list, with its serialisations (respond/wire-head.ts): it changes once a
   * second, so a hot entry's head is decided, built and serialised about once a second.
   */
  head: WireHead | undefined;
  /** The age (whole seconds, policy ageOf) `head` was decided for; NaN before the first hit. */
  age: number;
  /** What that head says, for the Outcome. */
  says: Head;
}

const MAX_REMEMBERED_TARGETS = 10_000;
/** Bytes of small hits kept with their head in one Buffer (respond/wire-head.ts). */
const ASSEMBLED_BUDGET = 16 * 1024 ** 2;

/**
 * Answers a fresh hit on a small object held in memory before Fastify's router runs (issue 6:
 * the router and reply path cost 25–50 % of a bare node:http hit). It decides with the same
 * policy functions as the full path and sends the head respond/heads.ts storedHead() builds for
 * it, memoised; anything that is not a plain fresh in-memory hit returns false and takes the full
 * path, so behaviour never differs, only cost.
 */
export interface FastHit {
  /** Answers the request if it is a plain fresh in-memory hit; false (nothing sent) otherwise. */
  tryServe(req: IncomingMessage, res: ServerResponse): boolean;
  /** How many requests it answered (stats, and tests proving the path is taken). */
  readonly served: number;
}

export function createFastHit(deps: ProxyDeps, hot: HotStore): FastHit {
  const { config, heads } = deps;
  const adminPrefix = config.adminPrefix === '' ? undefined : config.adminPrefix;
  const keys = new Map<string, string | undefined>();
  // Keyed by the stored objects themselves (peekSync hands them out uncopied): a replaced entry
  // gets a new Prepared, and a dropped one takes its Prepared with it.
  const prepared = new WeakMap<EntryMeta, Prepared>();
  const observer = deps.observer;
  const assembled = new AssembledResponses(ASSEMBLED_BUDGET);
  let served = 0;

  /** The URL at the origin for a request target (policy/keys.ts), remembered: targets repeat. */
  function urlFor(target: string): string | undefined {
    let key = keys.get(target);
    if (key === undefined && !keys.has(target)) {
      key = cacheKey(config.origin, target);
      if (keys.size >= MAX_REMEMBERED_TARGETS) keys.clear();
      keys.set(target, key);
    }
    return key;
  }

  /**
   * The rules' policy objects are memoised per path and status and replaced whole by a reload, so
   * "same object" means "same rules": a reload (or a rule for this path) prepares it again.
   */
  function prepare(entry: EntryMeta, rules: RequestRules): Prepared {
    const policy = rules.policyFor(entry.status);
    const cached = prepared.get(entry);
    if (cached?.headers === entry.headers && cached.policy === policy) return cached;
    const facts = useFacts(entry, policy);
    const made: Prepared = {
      headers: entry.headers,
      policy,
      facts,
      // A rule that gave the lifetime is named in Cache-Status detail, as on the full path.
      detail: lifetimeRule(rules, entry.status, facts.source),
      head: undefined,
      age: NaN,
      says: undefined as unknown as Head,
    };
    prepared.set(entry, made);
    return made;
  }

  /**
   * The head of a fresh hit on `entry` at `now`, or undefined when it is not one (stale, or not
   * usable without the full path). Without request directives decideUseFrom's answer changes
   * only with the age in whole seconds (policy ageOf), so a hot entry is decided and its head
   * built about once a second, with the same policy functions as the full path.
   */
  function headFor(entry: EntryMeta, made: Prepared, now: number): WireHead | undefined {
    const age = ageOf(made.facts, now);
    if (made.age === age) return made.head;
    const decision = decideUseFrom(NO_REQUEST_DIRECTIVES, made.facts, now);
    const { ttl } = decision;
    if (decision.action !== 'fresh' || decision.reason !== 'fresh') {
      made.head = undefined;
    } else {
      const status = made.detail === undefined ? { hit: true, ttl } : { hit: true, ttl, detail: made.detail };
      const as = { xCache: X_CACHE.hit, status, age, withoutValidation: true };
      made.says = storedHead(entry, as, WHOLE, heads);
      made.head = new WireHead(made.says.status, flatHeaders(made.says.headers));
    }
    made.age = age;
    return made.head;
  }

  function tryServe(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const target = req.url ?? '';
    if (adminPrefix !== undefined && target.startsWith(adminPrefix)) return false;
    if (carriesFullPathField(req.rawHeaders)) return false;
    const url = urlFor(target);
    if (url === undefined) return false;
    // The rules in force now (a reload swaps them whole); memoised per method and path.
    const rules = deps.live.current.rules.forRequest(method, url);
    if (rules.bypass !== undefined) return false;
    const key = rules.key(url);
    const variants = hot.peekSync(key) as EntryMeta[] | undefined;
    if (variants === undefined || variants.length === 0) return false;
    // A lone stored response that varies on nothing is the one selected (RFC 9111 §4.1), whatever
    // the request's fields: Node builds req.headers only when a variant has to be chosen by them.
    const only = variants.length === 1 ? variants[0] : undefined;
    const entry = only !== undefined && only.vary.length === 0 ? only : selectVariant(variants, req.headers);
    if (entry === undefined || (entry.status !== 200 && entry.status !== 203)) return false;
    // A coding the client does not take is decoded on the full path (respond/decode.ts).
    if (
      entry.headers['content-encoding'] !== undefined &&
      needsDecoding({ method, headers: req.headers }, entry.headers['content-encoding'])
    ) {
      return false;
    }
    const body = hot.getBody(entry);
    if (body === undefined) return false;
    const started = observer ? performance.now() : 0;
    const now = Date.now();
    const made = prepare(entry, rules);
    const head = headFor(entry, made, now);
    if (head === undefined) return false;
    const sent = method === 'HEAD' ? undefined : body;
    // Node's own serialisation of this head, made once a second; writeHead where it cannot be used.
    if (!head.send(res, sent, now, assembled)) res.writeHead(head.status, head.fields as string[]).end(sent);
    hot.markUsed(entry, now);
    served++;
    if (observer) {
      const { says } = made;
      const outcome: Outcome = {
        route: 'fast-hit',
        method,
        target,
        key,
        status: says.status,
        xCache: says.xCache,
        cacheStatus: says.cacheStatus,
        rule: made.detail ?? '',
        errorCode: '',
        bytes: method === 'HEAD' ? 0 : body.length,
        startedAt: now,
        durationMs: performance.now() - started,
        originMs: undefined,
        aborted: false,
      };
      observer.onOutcome(outcome, req);
    }
    return true;
  }

  return {
    tryServe,
    get served() {
      return served;
    },
  };
}
