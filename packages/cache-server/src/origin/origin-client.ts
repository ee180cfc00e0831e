import http from 'node:http';
import https from 'node:https';
import { PassThrough, Transform, type Duplex, type Readable } from 'node:stream';
import got, { type Request as GotRequest } from 'got';
import type { HeaderMap } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';
import type { OriginTlsOptions } from './origin-tls.js';

export interface OriginRequest {
  method: string;
  url: string;
  headers: HeaderMap;
  /** Request body to stream to the origin (unsafe methods); undefined → none. */
  body?: Readable;
  /**
   * Told of each interim response (1xx but 101) that arrives before the final one, for the
   * caller to relay (RFC 9110 §15.2); the client itself skips them.
   */
  onInterim?: InterimListener;
}

/** Told of an interim (1xx) response: its status and header fields. */
export type InterimListener = (status: number, headers: HeaderMap) => void;

export interface OriginResponse {
  status: number;
  headers: HeaderMap;
  /**
   * The response body; errors when the origin fails mid-body. It may have failed already when
   * the promise resolves (check `body.errored`): no 'error' event is left unhandled.
   */
  body: Readable;
  /** Wall clock (ms) when the request was sent and when the response head arrived (RFC 9111 §4.2.3). */
  requestTime: number;
  responseTime: number;
}

export interface OriginClient {
  /** Resolves once the response head arrives; rejects with a CacheError (502/504) otherwise. */
  request(req: OriginRequest): Promise<OriginResponse>;
  close(): void;
}

export interface OriginClientOptions {
  /**
   * Milliseconds for connecting, then for the response head once the request has been sent,
   * then between body bytes.
   */
  timeout: number;
  /** Most request body bytes forwarded (pass-through); more is refused with 413. */
  maxBodySize?: number;
  /** Idle keep-alive connections kept per origin (nginx's `keepalive`); busy ones are not capped. */
  idleConnections?: number;
  /** Told, in one line, of origin faults the client absorbs (bytes after a complete response). */
  onFault?: (message: string, url: string) => void;
  /** For an https origin: trusted CAs, SNI name, client certificate, verification (origin-tls.ts). */
  tls?: OriginTlsOptions;
}

/** Fields that describe a request body's framing: meaningless, and dangerous, without a body. */
const BODY_FRAMING_FIELDS = ['content-length', 'transfer-encoding', 'expect'];

/** Methods whose got stream ends the request by itself (it refuses them a body). */
const METHODS_GOT_ENDS = new Set(['GET', 'HEAD']);

/** Node's own default for idle sockets per host, written down: the pool policy is ours. */
const DEFAULT_IDLE_CONNECTIONS = 256;

/**
 * The only module that speaks HTTP to the origin, through got (stream mode). No retries: a cache
 * must not repeat unsafe requests, and for safe ones a fast, clear 502/504 beats a slow one. The
 * one exception is a stale keep-alive connection (see isStaleConnection). No decompression and
 * no redirects: the cache stores and relays exactly what the origin sent.
 *
 * Connections: as many as requests need at once (no queue, so a miss never waits behind fetches
 * of other URLs; the client side's --max-connections bounds them), and up to `idleConnections`
 * kept open between requests, as nginx's `keepalive N` does.
 *
 * What got cannot express is done on the ClientRequest and response it hands over, and only
 * that (docs/design.md, "got for the origin"): the idle rule on the body, a 101 nobody asked
 * for, and bytes after a complete response.
 */
export function createOriginClient(options: OriginClientOptions): OriginClient {
  const maxBodySize = options.maxBodySize ?? Number.POSITIVE_INFINITY;
  const onFault = options.onFault ?? (() => {});
  const agentOptions: http.AgentOptions = {
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: options.idleConnections ?? DEFAULT_IDLE_CONNECTIONS,
  };
  const agents = {
    http: guardedAgent(http.Agent, agentOptions, onFault),
    https: guardedAgent(https.Agent, agentOptions, onFault) as https.Agent,
  };
  const client = got.extend({
    agent: agents,
    http2: false,
    retry: { limit: 0 },
    throwHttpErrors: false,
    decompress: false,
    followRedirect: false,
    headers: { 'user-agent': undefined },
    // Every https connection, pooled or fresh, carries the same TLS options (the agent keys its
    // pool by them); the pool's rules are the same for both schemes.
    https: gotTlsOptions(options.tls ?? { rejectUnauthorized: true }),
    // Each phase before the head: connecting, then the head once the request has been sent. A
    // request body goes at the client's pace, which --request-timeout bounds (got's `response`
    // starts when the upload is complete). Not got's `socket`: it would count the upload too.
    timeout: {
      lookup: options.timeout,
      connect: options.timeout,
      secureConnect: options.timeout,
      response: options.timeout,
    },
  });

  /** One attempt; `fresh` forces a new connection (the retry after a stale pooled one). */
  function send(req: OriginRequest, fresh: boolean): Promise<OriginResponse> {
    const requestTime = Date.now();
    return new Promise<OriginResponse>((resolve, reject) => {
      if (Number(req.headers['content-length']) > maxBodySize) {
        reject(new CacheError(ERRORS.bodyTooLarge));
        return;
      }
      let tooLarge = false;
      const upload = req.body ? limitBody(req.body, maxBodySize, () => (tooLarge = true)) : undefined;
      let stream: GotRequest;
      try {
        stream = client.stream(req.url, {
          method: req.method as 'GET',
          headers: requestHeaders(req) as Record<string, string>,
          ...(upload ? { body: upload } : {}),
          ...(fresh ? { agent: { http: new http.Agent(), https: new https.Agent() } } : {}),
        });
      } catch (error) {
        reject(toCacheError(error));
        return;
      }
      // In stream mode got sends a request of any method but GET and HEAD only once its stream is
      // ended (it waits for a body to be written): a bodiless DELETE, PUT, POST… is ended here.
      if (!upload && !METHODS_GOT_ENDS.has(req.method)) stream.end();

      // What the caller reads: Node's response, which got hands over, through a PassThrough so
      // that bytes after a complete response (which got takes for a failure of the whole
      // response, and answers by discarding what is unread) leave the announced bytes standing.
      const body = new PassThrough();
      // A failure can come in the packet that brings the head, before the caller listens: this
      // keeps it from crashing the process, and the caller finds it in `errored`.
      body.on('error', () => {});
      let response: http.IncomingMessage | undefined;
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        stream.destroy();
        reject(tooLarge ? new CacheError(ERRORS.bodyTooLarge, { cause: error }) : toCacheError(error));
      };
      /** A failure mid-body reaches the caller; after the last announced byte, none can. */
      const failBody = (error: Error) => {
        if (response && !response.complete && !body.destroyed) body.destroy(error);
      };

      stream.once('request', (outgoing: http.ClientRequest) => {
        // Ahead of got's own listener, which fails the whole response whenever the request
        // errs. Node errs after a complete response when bytes follow it that are no response
        // of ours (more than Content-Length, a body on a 304 or a HEAD answer): that response
        // stands as framed, as nginx serves it, and Node has closed the connection, so those
        // bytes can never be read as the answer to another request.
        outgoing.prependListener('error', (error: Error) => {
          if (!response) return;
          if (!response.complete) return failBody(error);
          response.unpipe(body);
          for (let chunk: unknown; (chunk = response.read()) !== null;) body.write(chunk);
          body.end();
          onFault(`the origin sent bytes after the end of the response (${error.message}); connection closed`, req.url);
        });
        // Idle time between body bytes bounds an origin that stalls mid-body. Only while the
        // cache is reading: a body the client paces (nothing stores it) is paused while that
        // client does not read, and that silence is the client's (--idle-timeout), not the
        // origin's (FINDINGS F16). A complete response has nothing left to wait for (F15).
        const onIdle = () => {
          if (!response || response.complete) return;
          if (response.isPaused()) return void outgoing.setTimeout(options.timeout, onIdle);
          const cause = fault('ETIMEDOUT', `no byte from the origin for ${options.timeout} ms`);
          failBody(new CacheError(ERRORS.originTimeout, { cause }));
          stream.destroy();
        };
        stream.once('response', () => outgoing.setTimeout(options.timeout, onIdle));
      });
      stream.on('information', (interim: http.InformationEvent) =>
        req.onInterim?.(interim.statusCode, interim.headers),
      );
      // RFC 9110 §15.2.2: 101 only answers a request that asked to upgrade, and the cache never
      // forwards Upgrade (hop-by-hop). got hands over the socket and never settles.
      stream.once('upgrade', (head: http.IncomingMessage, socket: Duplex) => {
        socket.destroy();
        const message = `${head.statusCode} Switching Protocols to a request that asked for no upgrade`;
        fail(new CacheError(ERRORS.originBadResponse, { cause: fault('ERR_UNASKED_UPGRADE', message) }));
      });
      stream.on('error', (error: Error) => {
        if (settled) return failBody(error);
        if (!fresh && isStaleConnection(req, stream, error)) {
          settled = true;
          resolve(send(req, true));
          return;
        }
        fail(error);
      });
      stream.once('response', (incoming: http.IncomingMessage) => {
        if (settled) return;
        // Node keeps the first MAX_FIELD_LINES lines in `headers` and drops the rest unsaid: a
        // `Cache-Control: private` after them would be lost and the response shared. nginx refuses
        // such a head too (`upstream sent too big header`).
        if (incoming.rawHeaders.length > 2 * MAX_FIELD_LINES) {
          const lines = incoming.rawHeaders.length / 2;
          const message = `the origin sent ${lines} header lines; more than ${MAX_FIELD_LINES} are not read`;
          return fail(new CacheError(ERRORS.originBadResponse, { cause: fault('ERR_TOO_MANY_HEADER_LINES', message) }));
        }
        settled = true;
        // got's response is Node's own (no decompression): framing state and raw header lines.
        response = incoming;
        // Not through got's stream: it pulls the body with read(), which joins whatever is
        // buffered into a new Buffer (a copy of every byte), and its 'readable' listener keeps
        // the response from flowing into anything else. Nothing else of got reads the body.
        incoming.removeAllListeners('readable');
        incoming.pipe(body);
        // Whoever reads the body may drop it before its end (nobody wants it: a HEAD whose answer
        // is not stored, a body too large to store or to fetch for a Range): the origin's response
        // goes with it. Left unread, its connection stayed open for good (paused, so the idle
        // timer above spared it), one per such request.
        body.once('close', () => {
          if (!incoming.complete) stream.destroy();
        });
        resolve({
          status: incoming.statusCode ?? 502,
          headers: withEveryAgeLine(incoming),
          body,
          requestTime,
          responseTime: Date.now(),
        });
      });
    });
  }

  return {
    request: (req) => send(req, false),
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/**
 * The most header lines of a response Node's HTTP client keeps (its parser's default
 * maxHeaderPairs, 2,000 names and values); it drops any after them without a word.
 */
const MAX_FIELD_LINES = 1000;

/** The origin's TLS options (node:tls names) in got's names. */
function gotTlsOptions(tls: OriginTlsOptions) {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca !== undefined ? { certificateAuthority: tls.ca } : {}),
    ...(tls.servername !== undefined ? { serverName: tls.servername } : {}),
    ...(tls.cert !== undefined ? { certificate: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
  };
}

/** What went wrong, with a code as Node's own errors have (the log shows codes, and stacks only without one). */
function fault(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * A keep-alive agent that closes an idle connection the moment the origin sends anything on it.
 * Nothing may arrive between responses: such bytes are the surplus of the last response (a body
 * longer than announced, a body on a 304) and, left there, would be read as the answer to the
 * next request sent on that connection, for another URL and another client.
 */
function guardedAgent(
  Base: typeof http.Agent,
  options: http.AgentOptions,
  onFault: (message: string, url: string) => void,
): http.Agent {
  class Guarded extends Base {
    override keepSocketAlive(socket: Duplex): void {
      const keep = (super.keepSocketAlive as (socket: Duplex) => boolean)(socket);
      if (keep) socket.on('data', closeOnStrayBytes);
      return keep as unknown as void;
    }
    override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
      socket.off('data', closeOnStrayBytes);
      super.reuseSocket(socket, request);
    }
  }
  function closeOnStrayBytes(this: Duplex): void {
    const { remoteAddress, remotePort } = this as Duplex & { remoteAddress?: string; remotePort?: number };
    onFault('the origin sent bytes on an idle connection; connection closed', `${remoteAddress}:${remotePort}`);
    this.destroy();
  }
  return new Guarded(options);
}

/**
 * A pooled connection the origin had closed while it sat idle (its keep-alive timeout, a restart)
 * fails the moment it is used, before any response byte: the request never reached the origin.
 * A body-less GET or HEAD (idempotent, RFC 9110 §9.2.2) is then sent once more on a new
 * connection, as Node's documentation advises (`request.reusedSocket`) and browsers do.
 */
function isStaleConnection(req: OriginRequest, stream: GotRequest, error: unknown): boolean {
  if (req.body || (req.method !== 'GET' && req.method !== 'HEAD') || stream.reusedSocket !== true) return false;
  const code = (error as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * The headers sent. Without a body, no framing fields: a GET that arrived with `Content-Length`
 * must not make the origin wait for a body that never comes (or read the next request as one).
 * A body without Content-Length (the client sent it chunked; Transfer-Encoding is hop-by-hop and
 * was removed) goes chunked: Node frames no other way a DELETE's or OPTIONS's body, and would
 * send its bytes bare, for the origin to read as the next request on the connection.
 */
function requestHeaders(req: OriginRequest): HeaderMap {
  if (req.body) {
    return req.headers['content-length'] === undefined
      ? { ...req.headers, 'transfer-encoding': 'chunked' }
      : req.headers;
  }
  const headers = { ...req.headers };
  for (const name of BODY_FRAMING_FIELDS) delete headers[name];
  return headers;
}

/** Passes `body` through, failing once more than `maxBytes` have gone by. */
function limitBody(body: Readable, maxBytes: number, onTooLarge: () => void): Readable {
  let bytes = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes <= maxBytes) return done(null, chunk);
      onTooLarge();
      done(new CacheError(ERRORS.bodyTooLarge));
    },
  });
  body.once('error', (error) => limited.destroy(error));
  return body.pipe(limited);
}

/** Maps any origin failure (got's, Node's or the socket's) onto the catalogue: timeouts → 504, the rest → 502. */
export function toCacheError(error: unknown): CacheError {
  if (error instanceof CacheError) return error;
  const code = (error as { code?: string })?.code;
  if (code === 'ETIMEDOUT') return new CacheError(ERRORS.originTimeout, { cause: error });
  if (code !== undefined && isTlsFailure(code)) return new CacheError(ERRORS.originTls, { cause: error });
  if (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH'
  ) {
    return new CacheError(ERRORS.originUnreachable, { cause: error });
  }
  return new CacheError(ERRORS.originBadResponse, { cause: error });
}

/**
 * Node keeps only the first of several Age lines (IncomingMessage drops repeats of a few
 * singleton fields), but the policy must see them all to tell that they disagree (RFC 9111 §5.1;
 * policy/freshness.ts readAgeField): they are joined into one list, as RFC 9110 §5.3 combines
 * repeated lines.
 */
function withEveryAgeLine(incoming: http.IncomingMessage): HeaderMap {
  const raw = incoming.rawHeaders;
  const lines: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'age') lines.push(raw[i + 1] ?? '');
  return lines.length > 1 ? { ...incoming.headers, age: lines.join(', ') } : incoming.headers;
}

/**
 * OpenSSL's certificate verification codes (X509_V_ERR_* names, as Node reports them), Node's
 * own name check, and handshake failures (ERR_SSL_*: an alert from the origin, no shared
 * protocol or cipher, a client certificate it refused).
 */
function isTlsFailure(code: string): boolean {
  return (
    /CERT|UNABLE_TO_(GET|VERIFY|DECRYPT)|SELF_SIGNED|^ERR_SSL_|^ERR_TLS_/.test(code) ||
    code === 'HOSTNAME_MISMATCH' ||
    code === 'EPROTO'
  );
}
