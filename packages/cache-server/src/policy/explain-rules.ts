import type { FreshnessSource } from './types.js';

/**
 * The rules `explain.ts` names, one table per decision: each reason a decision gives, with its
 * RFC section and a sentence for people.
 */

/** What the next request for this variant gets, in the vocabulary operators use. */
export type NextOutcome = 'hit' | 'stale-while-revalidate' | 'revalidate' | 'miss';

export interface Rule {
  rfc: string;
  text: string;
}

/** decideStorable's reasons. */
export const STORABLE_RULES: Readonly<Record<string, Rule>> = {
  storable: { rfc: 'RFC 9111 §3', text: 'A shared cache may store this response.' },
  'method-head': {
    rfc: 'RFC 9111 §3',
    text: 'A HEAD response has no body to store; the stored GET response answers HEAD instead.',
  },
  'method-not-cacheable': { rfc: 'RFC 9111 §3', text: 'The request method is not one whose responses are cached.' },
  'status-not-final': { rfc: 'RFC 9111 §3', text: 'Only final (non-1xx) responses are stored.' },
  'partial-content': {
    rfc: 'RFC 9111 §3.3',
    text: 'A 206 is stored only as a part of the response it belongs to, never as a complete response.',
  },
  'partial-multipart': {
    rfc: 'RFC 9111 §3.3',
    text: 'A multipart/byteranges 206 is relayed but not stored (its parts are not taken apart).',
  },
  'partial-content-range': {
    rfc: 'RFC 9110 §14.4',
    text: 'A 206 without one valid Content-Range cannot say which bytes it holds: not stored.',
  },
  'partial-unknown-length': {
    rfc: 'RFC 9110 §14.4',
    text: 'A 206 whose Content-Range does not give the complete length (/*) is not stored.',
  },
  'partial-length-mismatch': {
    rfc: 'RFC 9110 §14.4',
    text: 'A 206 whose Content-Length disagrees with its Content-Range says two things about its bytes: not stored.',
  },
  'range-not-satisfiable': {
    rfc: 'RFC 9110 §15.5.17',
    text: 'A 416 answers the Range that was asked, not the URL: not stored.',
  },
  'not-modified': { rfc: 'RFC 9111 §4.3.4', text: 'A 304 updates a stored response; it is never stored itself.' },
  'request-no-store': { rfc: 'RFC 9111 §5.2.1.5', text: 'The request said no-store.' },
  'must-understand': {
    rfc: 'RFC 9111 §5.2.2.3',
    text: 'must-understand with a status code this cache does not implement.',
  },
  'no-store': { rfc: 'RFC 9111 §5.2.2.5', text: 'The response said no-store.' },
  private: { rfc: 'RFC 9111 §5.2.2.7', text: 'The response is private: only a browser cache may keep it.' },
  authorization: {
    rfc: 'RFC 9111 §3.5',
    text: 'The request carried Authorization and the response gave no public, s-maxage or must-revalidate.',
  },
  'vary-star': { rfc: 'RFC 9111 §4.1', text: 'Vary: * matches no later request.' },
  'set-cookie': {
    rfc: 'RFC 9111 §3',
    text: 'It sets a cookie and neither public nor s-maxage says it may be shared (this cache’s rule, as nginx’s and Varnish’s).',
  },
  'credentials-without-freshness': {
    rfc: 'RFC 9111 §4.2.2',
    text: 'The request carried Cookie or Authorization and the response gave no explicit freshness and no public: it may be that user’s page, so it is not kept on a heuristic lifetime (this cache’s rule against web cache deception).',
  },
  'not-cacheable-status': {
    rfc: 'RFC 9111 §3, RFC 9110 §15.1',
    text: 'No explicit freshness, not public, and the status is not heuristically cacheable.',
  },
  'never-reusable': {
    rfc: 'RFC 9111 §4.2',
    text: 'Stale on arrival, without validators or a way to serve it stale: it could never be reused.',
  },
};

/** decideUse's reasons, and what each means for the next request. */
export const REUSE_RULES: Readonly<Record<string, Rule & { outcome: NextOutcome }>> = {
  fresh: { outcome: 'hit', rfc: 'RFC 9111 §4.2', text: 'Fresh: served from the cache without asking the origin.' },
  immutable: {
    outcome: 'hit',
    rfc: 'RFC 8246 §2',
    text: 'Fresh and immutable: served from the cache even though the request asked to revalidate (max-age).',
  },
  'request-max-stale': {
    outcome: 'hit',
    rfc: 'RFC 9111 §5.2.1.2',
    text: 'Stale, but the request accepts it (max-stale).',
  },
  'stale-while-revalidate': {
    outcome: 'stale-while-revalidate',
    rfc: 'RFC 5861 §3',
    text: 'Stale within stale-while-revalidate: served at once while one background request refreshes it.',
  },
  'response-no-cache': {
    outcome: 'revalidate',
    rfc: 'RFC 9111 §5.2.2.4',
    text: 'The response said no-cache: every use is validated with the origin first.',
  },
  'request-no-cache': {
    outcome: 'revalidate',
    rfc: 'RFC 9111 §5.2.1.4',
    text: 'The request said no-cache: validated with the origin first.',
  },
  'request-max-age': {
    outcome: 'revalidate',
    rfc: 'RFC 9111 §5.2.1.1',
    text: 'Older than the request’s max-age: validated with the origin first.',
  },
  'request-min-fresh': {
    outcome: 'revalidate',
    rfc: 'RFC 9111 §5.2.1.3',
    text: 'Less freshness left than the request’s min-fresh: validated with the origin first.',
  },
  'stale-forbidden': {
    outcome: 'revalidate',
    rfc: 'RFC 9111 §4.2.4, §5.2.2.2',
    text: 'Stale, and must-revalidate, proxy-revalidate or s-maxage forbid serving it stale.',
  },
  stale: { outcome: 'revalidate', rfc: 'RFC 9111 §4.3', text: 'Stale: validated with the origin before use.' },
  'vary-star': { outcome: 'miss', rfc: 'RFC 9111 §4.1', text: 'Vary: * matches no request: fetched again.' },
  'not-shareable': {
    outcome: 'miss',
    rfc: 'RFC 9111 §3',
    text: 'The stored response says no-store or private and no rule forces it now: it is fetched again.',
  },
};

/** freshnessLifetime's sources. */
export const FRESHNESS_RULES: Readonly<Record<FreshnessSource, Rule>> = {
  // The operator's rules (config file): a configured lifetime in place of the response's own
  // (ttl), or of the heuristic a cache MAY choose when none is explicit (default-ttl, §4.2.2).
  'rule-ttl': { rfc: 'RFC 9111 §4.2.1', text: 'a rule’s ttl, which replaces the origin’s lifetime' },
  'rule-default-ttl': {
    rfc: 'RFC 9111 §4.2.2',
    text: 'a rule’s default-ttl, in place of a heuristic: the origin gave no explicit lifetime',
  },
  's-maxage': { rfc: 'RFC 9111 §5.2.2.10', text: 's-maxage, which a shared cache obeys before max-age' },
  'max-age': { rfc: 'RFC 9111 §5.2.2.1', text: 'max-age' },
  expires: { rfc: 'RFC 9111 §5.3', text: 'Expires minus Date' },
  heuristic: { rfc: 'RFC 9111 §4.2.2', text: 'a heuristic: a fraction of the time since Last-Modified' },
  none: { rfc: 'RFC 9111 §4.2.1', text: 'nothing: no explicit lifetime and no heuristic applies' },
};

const UNKNOWN_RULE: Rule = { rfc: 'RFC 9111', text: 'A rule this explanation does not describe yet.' };

export function ruleOf<R extends Rule>(table: Readonly<Record<string, R>>, reason: string): R | Rule {
  return Object.hasOwn(table, reason) ? (table[reason] as R) : UNKNOWN_RULE;
}

export function ruleText(table: Readonly<Record<string, Rule>>, reason: string): string {
  return ruleOf(table, reason).text;
}
