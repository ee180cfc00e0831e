import { negotiateCoding } from '../../src/policy/index.js';
import type { ClientRequest, OriginReply } from './fuzz-model.js';
import type { Arrival, OriginRecord } from './fuzz-origin.js';
import type { WireExchange } from './wire-client.js';
import { field, type WireResponse } from './wire.js';

/** One request as the fuzzer sent it. */
export interface Sent {
  request: ClientRequest;
  /** Its `X-Req`. */
  reqId: string;
  target: string;
}

export interface ConnectionResult {
  sent: Sent[];
  result: WireExchange;
  /** The client left mid-response on purpose: what it did not get is not missing. */
  abortedByClient: boolean;
}

export interface RunFacts {
  records: ReadonlyMap<number, OriginRecord>;
  /** What the origin was programmed to answer, by target. */
  replies: ReadonlyMap<string, OriginReply[]>;
  /** Every request the origin read, with when it answered. */
  arrivals: readonly Arrival[];
  /** The cache's --origin-timeout. */
  originTimeoutMs: number;
  /** The longest the cache's event loop was late during the run (its nodejs_eventloop_lag_max_seconds). */
  cacheLagMs: number;
}

const tokens = (value: string | undefined) =>
  (value ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/**
 * `private` (bare), `no-store`: made for the one request that asked (RFC 9111 §3, §5.2.2.5,
 * §5.2.2.7). `served` is the Cache-Control of a response served from storage: a 304 may have
 * replaced the origin's, and what the stored response says now holds too.
 */
function isPrivate(record: OriginRecord, served: string | undefined): boolean {
  const cc = [...tokens(record.reply.cacheControl), ...tokens(served)];
  if (cc.includes('private') || cc.includes('no-store')) return true;
  // RFC 9111 §3.5: a response to an authorised request is shared only when the origin says so.
  const shareable = cc.some((t) => t === 'public' || t.startsWith('s-maxage') || t === 'must-revalidate');
  if (record.requestHeaders.authorization !== undefined && !shareable) return true;
  // Only GET and HEAD responses may answer another request, and a POST response that names its
  // own URL in Content-Location with an explicit lifetime (RFC 9110 §9.3.3).
  const postForGets = record.method === 'POST' && record.reply.contentLocation && hasExplicitFreshness(record.reply);
  return record.method !== 'GET' && record.method !== 'HEAD' && !postForGets;
}

/** X-Cache values that mean "from storage, no origin response for this request". */
const FROM_STORAGE = ['HIT', 'STALE', 'UPDATING'];

/** Explicit freshness (RFC 9111 §4.2.1) or `public`: anything else would be heuristic. */
function hasExplicitFreshness(reply: OriginReply): boolean {
  const cc = tokens(reply.cacheControl);
  return (
    reply.expires !== undefined || cc.some((t) => t.startsWith('max-age') || t.startsWith('s-maxage') || t === 'public')
  );
}

/**
 * The request's value of a field named by `Vary`, as the cache compares them (RFC 9111 §4.1).
 * Accept-Encoding selects by the coding it negotiates (br, gzip or identity; a Range gets
 * identity): docs/configuring.md, Compression. Requests that would be sent the same bytes share.
 */
function selecting(name: string, headers: Record<string, string | string[] | undefined>): string {
  if (name.toLowerCase() === 'accept-encoding') return negotiateCoding(headers);
  const value = headers[name.toLowerCase()];
  const text = Array.isArray(value) ? value.join(', ') : (value ?? '(absent)');
  return text.trim();
}

function requestHeaders(
  sent: Sent,
  secrets: { cookie: string; authorization: string },
): Record<string, string | undefined> {
  const r = sent.request;
  return {
    'x-v': r.variant,
    'accept-encoding': r.acceptEncoding,
    range: r.range,
    cookie: r.cookie ? `session=${secrets.cookie}` : undefined,
  };
}

/** Parts of a 206: single (Content-Range) or multipart/byteranges. */
function parts(response: WireResponse): { first: number; last: number; size: number; body: Buffer }[] | string {
  const single = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(field(response.fields, 'content-range') ?? '');
  if (single) {
    return [{ first: Number(single[1]), last: Number(single[2]), size: Number(single[3]), body: response.body }];
  }
  const boundary = /boundary=("?)([^";]+)\1/.exec(field(response.fields, 'content-type') ?? '')?.[2];
  if (!boundary) return 'a 206 with neither Content-Range nor a multipart boundary';
  const text = response.body.toString('latin1');
  const out = [];
  for (const part of text.split(`--${boundary}`).slice(1, -1)) {
    const split = part.indexOf('\r\n\r\n');
    const range = /content-range:\s*bytes (\d+)-(\d+)\/(\d+)/i.exec(part.slice(0, split));
    if (split < 0 || !range) return 'a multipart part without Content-Range';
    const body = Buffer.from(part.slice(split + 4).replace(/\r\n$/, ''), 'latin1');
    out.push({ first: Number(range[1]), last: Number(range[2]), size: Number(range[3]), body });
  }
  return out;
}

/**
 * A server may answer a request before reading its body, with `Connection: close` (RFC 9112
 * §9.6). A client still writing then gets EPIPE, and Node destroys its socket at once, dropping
 * whatever response bytes it had not read yet: that lost response is the test client's, not the
 * cache's. Only for a request with a body, and only for that error.
 */
function lostByClient(result: WireExchange, s: Sent): boolean {
  return result.error === 'EPIPE' && result.raw.length === 0 && s.request.body !== 'none';
}

/**
 * By `X-Req`: when the client had sent each request as the cache forwards it (the head of a GET
 * or HEAD, whose body the cache drops; else its last byte) and when its response came.
 */
type Timeline = ReadonlyMap<string, { target: string; sentAt?: number; receivedAt?: number }>;

/**
 * Whether a `504 CACHE_ERR_ORIGIN_TIMEOUT` for a path whose origin never delays (it answers
 * within 80 ms) is explained by a starved machine rather than by the cache. Processes on a
 * shared, loaded machine run late: the origin (in the test's process) may read and answer a
 * request after the cache's deadline, and a cache whose event loop runs late fires a deadline
 * before reading a head that did arrive (timers run before I/O). Either has to be shown, with
 * times measured here, and the 504 must have come no sooner than a deadline could pass (one
 * never starts before the client sent the request the fetch is for):
 * - the origin read a request for this path and had not answered it a quarter of the timeout
 *   after the client sent that request (a healthy run answers within the 80 ms delay), or
 * - the cache's own event loop was late by a quarter of the timeout during the run.
 * A request that never reached an unstarved origin, or an origin that answered at once to an
 * unstarved cache, still fails the run: those 504s are the cache's doing (issue 12.1 was one).
 */
function starvedTimeout(facts: RunFacts, times: Timeline, s: Sent): boolean {
  const late = facts.originTimeoutMs / 4;
  const got = times.get(s.reqId)?.receivedAt ?? Infinity;
  const deadlinePassed = (sent: number) => got >= sent + facts.originTimeoutMs - 50;
  const originLate = facts.arrivals.some((arrival) => {
    const sent = times.get(arrival.reqId)?.sentAt;
    if (arrival.path !== s.target || sent === undefined || sent > got) return false;
    return (arrival.answeredAt ?? Infinity) >= sent + late && deadlinePassed(sent);
  });
  if (originLate) return true;
  // The fetch may be another request's for the same path (collapsed): the earliest one sent.
  const sentForPath = [...times.values()].filter((t) => t.target === s.target && t.sentAt !== undefined);
  const earliest = Math.min(...sentForPath.map((t) => t.sentAt as number));
  return facts.cacheLagMs >= late && deadlinePassed(earliest);
}

/**
 * The invariants of one run, over everything every client received: well framed; every request
 * answered; no key's or variant's response under another; stored bytes equal the origin's;
 * nothing private, no Set-Cookie and no per-user heuristic page served to another request; errors
 * only when the origin failed.
 */
export function checkRun(
  facts: RunFacts,
  connections: ConnectionResult[],
  secretsOf: (client: number) => { cookie: string; authorization: string },
): string[] {
  const violations: string[] = [];
  const times = new Map(
    connections.flatMap(({ sent, result }) =>
      sent.map((s, i) => {
        const bodyDropped = s.request.method === 'GET' || s.request.method === 'HEAD';
        const sentAt = (bodyDropped ? result.headSentAt : result.sentAt)[i];
        return [s.reqId, { target: s.target, sentAt, receivedAt: result.receivedAt[i] }];
      }),
    ),
  );
  const faulty = (target: string) =>
    (facts.replies.get(target) ?? []).some((reply) => reply.fault !== 'none' || reply.status >= 500);
  /** The origin broke a body for this target: a client may see its response cut, or none at all. */
  const brokenBody = (target: string) =>
    (facts.replies.get(target) ?? []).some((reply) =>
      ['reset-mid-body', 'short-body', 'bad-chunk'].includes(reply.fault),
    );
  for (const [c, { sent, result, abortedByClient }] of connections.entries()) {
    const where = (i: number) =>
      `connection ${c + 1} request ${i + 1} (${sent[i]?.request.method} ${sent[i]?.target}, ${sent[i]?.reqId})`;
    if (result.end.kind === 'malformed') {
      violations.push(`${where(result.responses.length)}: malformed response: ${result.end.reason}`);
    }
    result.responses.forEach((response, i) => {
      const s = sent[i] as Sent;
      const excused = (error: string | undefined) =>
        (error?.startsWith('CACHE_ERR_ORIGIN_') && faulty(s.target)) ||
        (error === 'CACHE_ERR_ORIGIN_TIMEOUT' && starvedTimeout(facts, times, s));
      for (const problem of checkResponse(facts, s, response, secretsOf(s.request.client), excused)) {
        violations.push(`${where(i)}: ${problem}`);
      }
    });
    const unanswered = result.responses.length;
    if (unanswered < sent.length && result.end.kind !== 'malformed' && !abortedByClient) {
      const s = sent[unanswered] as Sent;
      const last = result.responses.at(-1);
      const before = sent[unanswered - 1]?.request;
      // The connection ends after a response the server said so for, or the client asked so for.
      const closeAnnounced =
        (last !== undefined && tokens(field(last.fields, 'connection')).includes('close')) ||
        before?.close === true ||
        before?.version === '1.0';
      const truncated = result.end.kind === 'partial' && result.end.status !== undefined;
      if (result.timedOut) violations.push(`${where(unanswered)}: no complete response in time (${result.end.kind})`);
      else if (truncated && !brokenBody(s.target)) {
        violations.push(`${where(unanswered)}: response cut short though the origin sent it whole`);
      } else if (!truncated && !closeAnnounced && !brokenBody(s.target) && !lostByClient(result, s)) {
        violations.push(`${where(unanswered)}: connection closed without a response`);
      }
    }
  }
  return violations;
}

function checkResponse(
  facts: RunFacts,
  s: Sent,
  response: WireResponse,
  secrets: { cookie: string; authorization: string },
  /** Whether an error the cache made (its X-Cache-Error) is explained by the origin or the machine. */
  excused: (error: string | undefined) => boolean,
): string[] {
  const problems: string[] = [];
  const status = response.status;
  const xCache = field(response.fields, 'x-cache');
  const error = field(response.fields, 'x-cache-error');
  for (const cookie of response.fields.filter(([n]) => n.toLowerCase() === 'set-cookie').map(([, v]) => v)) {
    const owner = facts.records.get(Number(/^sid=(\d+)/.exec(cookie)?.[1]));
    if (owner?.reqId !== s.reqId)
      problems.push(`Set-Cookie ${cookie} made for ${owner?.reqId} reached another request`);
  }
  const idText = field(response.fields, 'x-origin-id');
  if (idText === undefined) {
    if (status === 304 || (s.request.method === 'PURGE' && status < 500)) return problems;
    if (error === 'CACHE_ERR_ONLY_IF_CACHED' && s.request.cacheControl === 'only-if-cached') return problems;
    if (excused(error)) return problems;
    problems.push(
      `${status} made by the cache (${error ?? 'no error code'}, X-Cache ${xCache}) though the origin did not fail`,
    );
    return problems;
  }
  const record = facts.records.get(Number(idText));
  if (!record) return [...problems, `X-Origin-Id ${idText} names no response the origin made`];
  if (record.path !== s.target) problems.push(`carries response ${record.id}, made for ${record.path}`);
  if (record.reqId !== s.reqId) {
    const fromStorage = xCache !== undefined && FROM_STORAGE.includes(xCache);
    if (isPrivate(record, fromStorage ? field(response.fields, 'cache-control') : undefined)) {
      problems.push(
        `response ${record.id} (${record.reply.cacheControl ?? 'no Cache-Control'}, made for ${record.method} ${record.reqId}) is not shareable`,
      );
    }
    const ownHeaders = requestHeaders(s, secrets);
    for (const name of tokens(record.reply.vary)) {
      if (name === '*') problems.push(`response ${record.id} has Vary: * and was made for ${record.reqId}`);
      else if (selecting(name, ownHeaders) !== selecting(name, record.requestHeaders)) {
        problems.push(
          `response ${record.id} varies on ${name}: made for ${selecting(name, record.requestHeaders)}, served for ${selecting(name, ownHeaders)}`,
        );
      }
    }
    // The directives as served: a 304 replaces the stored response's (RFC 9111 §4.3.4).
    const cc = tokens(field(response.fields, 'cache-control'));
    // RFC 9111 §5.2.1.5: nothing of a response to a request with no-store is stored.
    if (
      xCache !== undefined &&
      [...FROM_STORAGE, 'REVALIDATED'].includes(xCache) &&
      tokens(record.requestHeaders['cache-control'] as string).includes('no-store')
    ) {
      problems.push(`response ${record.id} answered a request with no-store, yet was stored and served (${xCache})`);
    }
    // RFC 9111 §5.2.2.4: no-cache, never without validation; §5.2.2.2, §5.2.2.8, §5.2.2.10 and
    // §4.2.4: must-revalidate, proxy-revalidate, s-maxage, no-cache never stale.
    if (xCache === 'HIT' && cc.includes('no-cache'))
      problems.push(`response ${record.id} is no-cache, served without validation`);
    // Issue 12.7: no heuristic freshness for a response to a request with Cookie or
    // Authorization (web cache deception): without explicit freshness it is not served from
    // storage to another request.
    const credentials = record.requestHeaders.cookie !== undefined || record.requestHeaders.authorization !== undefined;
    if (fromStorage && credentials && !hasExplicitFreshness(record.reply)) {
      problems.push(
        `response ${record.id} to a request with credentials, only heuristically fresh, served from storage`,
      );
    }
    const neverStale = cc.some(
      (t) => t === 'no-cache' || t === 'must-revalidate' || t === 'proxy-revalidate' || t.startsWith('s-maxage'),
    );
    if ((xCache === 'STALE' || xCache === 'UPDATING') && neverStale) {
      problems.push(`response ${record.id} (${cc.join(', ')}) may never be served stale, yet was (${xCache})`);
    }
  }
  // RFC 9110 §8.6: a HEAD response's Content-Length, if any, is the one the GET would carry.
  const length = field(response.fields, 'content-length');
  if (s.request.method === 'HEAD' && status === record.status && status === 200 && length !== undefined) {
    if (Number(length) !== record.length)
      problems.push(`HEAD says Content-Length ${length}, response ${record.id} has ${record.length}`);
  }
  if (s.request.method === 'HEAD' || status === 204 || status === 304 || status === 416) return problems;
  if (status === 206) {
    const found = parts(response);
    if (typeof found === 'string') return [...problems, found];
    for (const part of found) {
      // A range the origin did send is right even if the origin stopped short after it.
      const expected = record.body.subarray(part.first, part.last + 1);
      if (part.size !== record.length || part.last >= record.body.length || !part.body.equals(expected)) {
        problems.push(`206 part ${part.first}-${part.last}/${part.size} differs from response ${record.id}'s bytes`);
      }
    }
    return problems;
  }
  if (status !== record.status) {
    problems.push(`status ${status}, but response ${record.id} was ${record.status}`);
  }
  if (!record.complete) problems.push(`response ${record.id} was broken by the origin, yet served complete`);
  else if (!response.body.equals(record.body)) {
    problems.push(
      `body (${response.body.length} bytes) differs from response ${record.id}'s (${record.body.length} bytes)`,
    );
  }
  return problems;
}
