import { readField } from './cache-control.js';
import { responseControl } from './response-control.js';
import { currentAge, freshnessLifetime, readAgeField } from './freshness.js';
import { asResponse, decideAnswerStorable, isPart } from './partial.js';
import { decideUse, mayServeStaleOnError } from './use.js';
import type {
  EntryMeta,
  FreshnessSource,
  HeaderMap,
  PolicyOptions,
  RequestView,
  ResponseView,
  UseDecision,
} from './types.js';
import { FRESHNESS_RULES, REUSE_RULES, ruleOf, ruleText, STORABLE_RULES, type NextOutcome } from './explain-rules.js';

export { FRESHNESS_RULES, REUSE_RULES, STORABLE_RULES, type NextOutcome } from './explain-rules.js';

/**
 * "Why was this (not) cached?", answered by the rulebook itself: the same pure decisions the
 * proxy takes (decideStorable, freshnessLifetime, currentAge, decideUse, mayServeStaleOnError),
 * each turned into a step that names its rule and its RFC section. Nothing here decides anything
 * on its own, so the explanation cannot drift from what the proxy does.
 */

export interface ExplainStep {
  /** What was checked. */
  check:
    | 'rules'
    | 'lookup'
    | 'storable'
    | 'partial'
    | 'targeted-field'
    | 'freshness'
    | 'age'
    | 'vary'
    | 'validators'
    | 'reuse'
    | 'on-error';
  /** The rule's short name, the same vocabulary as Cache-Status `detail` and the logs. */
  reason: string;
  /** Where the rule is written, e.g. `RFC 9111 §4.2.1`. */
  rfc: string;
  /** One sentence for people. */
  text: string;
}

export interface Verdict {
  reason: string;
  rfc: string;
}

export interface EntryExplanation {
  variant: string;
  status: number;
  storable: Verdict & { storable: boolean };
  freshness: Verdict & { lifetime: number; source: FreshnessSource };
  /** Current age, seconds (RFC 9111 §4.2.3). */
  age: number;
  /** lifetime − age; negative when stale. */
  ttl: number;
  next: Verdict & { outcome: NextOutcome };
  /** Could a stored copy answer if the origin answered 5xx right now (RFC 5861 §4, --grace)? */
  servableOnError: boolean;
  /** Could it answer if the origin could not be reached right now (RFC 9111 §4.2.4, --disconnected-grace)? */
  servableWhenDisconnected: boolean;
  steps: ExplainStep[];
}

export interface ResponseExplanation {
  status: number;
  storable: Verdict & { storable: boolean };
  freshness: Verdict & { lifetime: number; source: FreshnessSource };
  steps: ExplainStep[];
}

/** The steps for a URL with nothing stored: the next request goes to the origin. */
export function explainNothingStored(): ExplainStep[] {
  return [
    {
      check: 'lookup',
      reason: 'uri-miss',
      rfc: 'RFC 9111 §4',
      text: 'Nothing is stored for this URL: the next request is forwarded to the origin.',
    },
  ];
}

/**
 * One stored variant at `now`. `req` is the next request to imagine; by default a plain GET
 * carrying exactly the header values this variant was stored for, so it selects this variant.
 */
export function explainEntry(
  entry: EntryMeta,
  now: number,
  opts: PolicyOptions,
  req: RequestView = requestForVariant(entry),
): EntryExplanation {
  // A part is asked what any stored response is, without the `*` that keeps complete lookups off it.
  const stored = isPart(entry) ? asResponse(entry) : entry;
  const storable = storableVerdict({ method: 'GET', headers: req.headers }, stored, opts);
  const freshness = freshnessVerdict(entry, opts);
  const age = currentAge(entry, now);
  const ttl = freshness.lifetime - age;
  const decision = decideUse(req, stored, now, opts);
  const next = nextVerdict(decision, stored);
  const servableOnError = mayServeStaleOnError(req, stored, now, opts, 'error-status');
  const servableWhenDisconnected = mayServeStaleOnError(req, stored, now, opts, 'disconnected');
  const steps: ExplainStep[] = [
    { check: 'storable', reason: storable.reason, rfc: storable.rfc, text: ruleText(STORABLE_RULES, storable.reason) },
    ...partSteps(entry),
    ...targetedFieldSteps(entry.headers, opts),
    freshnessStep(freshness),
    ...ageFieldSteps(entry.headers),
    {
      check: 'age',
      reason: ttl > 0 ? 'fresh' : 'stale',
      rfc: 'RFC 9111 §4.2.3',
      text: `Current age ${age} s: ${ttl > 0 ? `${ttl} s of freshness left` : `stale by ${-ttl} s`}.`,
    },
    ...varySteps(stored),
    validatorStep(entry.headers),
    { check: 'reuse', reason: decision.reason, rfc: next.rfc, text: nextText(decision, stored) },
    onErrorStep(servableOnError, servableWhenDisconnected, next.outcome),
  ];
  return {
    variant: entry.variant,
    status: entry.status,
    storable,
    freshness,
    age,
    ttl,
    next,
    servableOnError,
    servableWhenDisconnected,
    steps,
  };
}

/** A response as the origin sends it now (a probe for a URL with nothing stored): would it be stored, for how long? */
export function explainResponse(
  req: RequestView,
  res: ResponseView,
  now: number,
  opts: PolicyOptions,
): ResponseExplanation {
  const storable = storableVerdict(req, res, opts);
  const freshness = freshnessVerdict({ status: res.status, headers: res.headers, responseTime: now }, opts);
  const steps: ExplainStep[] = [
    { check: 'storable', reason: storable.reason, rfc: storable.rfc, text: ruleText(STORABLE_RULES, storable.reason) },
    ...targetedFieldSteps(res.headers, opts),
    freshnessStep(freshness),
    ...ageFieldSteps(res.headers),
    validatorStep(res.headers),
  ];
  return { status: res.status, storable, freshness, steps };
}

/** A GET that selects `entry`: the request header values its variant was stored for (RFC 9111 §4.1). */
export function requestForVariant(entry: EntryMeta): RequestView {
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(entry.varyValues)) if (value !== undefined) headers[name] = value;
  return { method: 'GET', headers };
}

/** What a stored part is (RFC 9111 §3.3, §3.4): which bytes it holds, and which requests it answers. */
function partSteps(entry: EntryMeta): ExplainStep[] {
  if (entry.part === undefined) return [];
  const { start, end, length } = entry.part;
  const text =
    `A stored 206 holding bytes ${start}-${end} of ${length}: it answers only a GET whose Range lies wholly ` +
    'within what the parts of this representation hold; a Range outside, a GET without Range and a HEAD go to ' +
    'the origin. Parts with the same strong validator combine, and become one complete response once they ' +
    'hold every byte (§3.4).';
  return [{ check: 'partial', reason: 'part', rfc: 'RFC 9111 §3.3', text }];
}

function storableVerdict(req: RequestView, res: ResponseView, opts: PolicyOptions): EntryExplanation['storable'] {
  // A 206 by the rules for parts (policy/partial.ts), anything else by decideStorable.
  const decision = decideAnswerStorable(req, res, opts, false);
  return { storable: decision.storable, reason: decision.reason, rfc: ruleOf(STORABLE_RULES, decision.reason).rfc };
}

function freshnessVerdict(
  entry: Pick<EntryMeta, 'status' | 'headers' | 'responseTime'>,
  opts: PolicyOptions,
): EntryExplanation['freshness'] {
  const { lifetime, source } = freshnessLifetime(entry, opts);
  return { lifetime, source, reason: source, rfc: FRESHNESS_RULES[source].rfc };
}

function freshnessStep(freshness: EntryExplanation['freshness']): ExplainStep {
  const rule = FRESHNESS_RULES[freshness.source];
  const text =
    freshness.source === 'none'
      ? `Freshness lifetime 0 s: ${rule.text}.`
      : `Freshness lifetime ${freshness.lifetime} s, from ${rule.text}.`;
  return { check: 'freshness', reason: freshness.source, rfc: rule.rfc, text };
}

/** RFC 9111 §5.1: an Age that is not one non-negative integer (or a list of one) makes the response stale. */
function ageFieldSteps(headers: HeaderMap): ExplainStep[] {
  if (readAgeField(headers) !== 'untrusted') return [];
  return [
    {
      check: 'age',
      reason: 'untrusted-age',
      rfc: 'RFC 9111 §5.1',
      text: `Age "${readField(headers, 'age')}" is not one number of seconds: the response is treated as stale.`,
    },
  ];
}

/**
 * RFC 9213 §2.1: a valid targeted field replaces Cache-Control and Expires for this cache; so does
 * Surrogate-Control when it applies to it (W3C Edge Architecture 1.0 §3).
 */
function targetedFieldSteps(headers: HeaderMap, opts: PolicyOptions): ExplainStep[] {
  const { source, directives } = responseControl(headers, opts);
  if (source === 'cache-control') return [];
  const field = source === 'targeted-field' ? opts.targetedField : 'surrogate-control';
  const rfc = source === 'targeted-field' ? 'RFC 9213 §2.1' : 'W3C Edge Architecture 1.0 §3';
  const names = [...directives.keys()].join(', ');
  return [
    {
      check: 'targeted-field',
      reason: field,
      rfc,
      text: `${field} (${names}) governs this cache instead of Cache-Control and Expires.`,
    },
  ];
}

/** RFC 9111 §4.1: which request headers select this variant. */
function varySteps(entry: EntryMeta): ExplainStep[] {
  if (entry.vary.length === 0) return [];
  const values = entry.vary.map((name) => `${name}: ${entry.varyValues[name] ?? '(absent)'}`).join('; ');
  return [
    {
      check: 'vary',
      reason: 'vary',
      rfc: 'RFC 9111 §4.1',
      text: `Varies on ${entry.vary.join(', ')}; this variant answers requests with ${values}.`,
    },
  ];
}

/** RFC 9111 §4.3.1: validators turn a refetch into a cheap conditional request. */
function validatorStep(headers: HeaderMap): ExplainStep {
  const etag = readField(headers, 'etag');
  const lastModified = readField(headers, 'last-modified');
  if (etag === undefined && lastModified === undefined) {
    return {
      check: 'validators',
      reason: 'no-validator',
      rfc: 'RFC 9111 §4.3.1',
      text: 'No ETag or Last-Modified: once stale it is fetched again in full.',
    };
  }
  const names = [etag !== undefined ? `If-None-Match: ${etag}` : '', lastModified ? `If-Modified-Since` : '']
    .filter(Boolean)
    .join(' and ');
  return {
    check: 'validators',
    reason: 'validators',
    rfc: 'RFC 9111 §4.3.1',
    text: `Once stale it is validated with ${names}; a 304 keeps the stored body.`,
  };
}

function nextVerdict(decision: UseDecision, entry: EntryMeta): EntryExplanation['next'] {
  const rule = ruleOf(REUSE_RULES, decision.reason);
  const outcome = 'outcome' in rule ? rule.outcome : outcomeOf(decision, entry);
  return { outcome, reason: decision.reason, rfc: rule.rfc };
}

/** For a reason the table does not know yet, the action alone still says what happens. */
function outcomeOf(decision: UseDecision, entry: EntryMeta): NextOutcome {
  if (decision.action === 'fresh') return 'hit';
  if (decision.action === 'stale-while-revalidate') return 'stale-while-revalidate';
  if (decision.action === 'revalidate') return entry.vary.includes('*') ? 'miss' : 'revalidate';
  return 'miss';
}

function nextText(decision: UseDecision, entry: EntryMeta): string {
  const text = ruleText(REUSE_RULES, decision.reason);
  if (decision.action !== 'revalidate') return text;
  const hasValidator = readField(entry.headers, 'etag') !== undefined || readField(entry.headers, 'last-modified');
  return hasValidator ? text : `${text} Without validators that is a full request.`;
}

/**
 * What an origin failure would change: RFC 5861 §4 stale-if-error (plus this cache's grace) for a
 * 5xx; for an unreachable origin also RFC 9111 §4.2.4 (disconnected, plus --disconnected-grace).
 */
function onErrorStep(onStatus: boolean, whenDisconnected: boolean, outcome: NextOutcome): ExplainStep {
  const rfc = 'RFC 5861 §4';
  if (outcome === 'hit' || outcome === 'stale-while-revalidate') {
    return {
      check: 'on-error',
      reason: 'not-asked',
      rfc,
      text: 'The origin is not waited for, so its failure would not matter.',
    };
  }
  if (onStatus) {
    return {
      check: 'on-error',
      reason: 'stale-if-error',
      rfc,
      text: 'If the origin failed, the stored response would be served instead of the error.',
    };
  }
  if (whenDisconnected) {
    return {
      check: 'on-error',
      reason: 'disconnected',
      rfc: 'RFC 9111 §4.2.4',
      text:
        'If the origin could not be reached (refused, dropped, timed out), the stored response would be served; ' +
        'an error status from it would go to the client.',
    };
  }
  return {
    check: 'on-error',
    reason: 'error',
    rfc,
    text: 'If the origin failed, the client would get the error: nothing allows serving it stale.',
  };
}
