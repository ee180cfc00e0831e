import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { HeaderMap } from '@simple-cache/common';
import { CacheError, ERRORS } from '../errors.js';
import type { OriginTlsOptions } from './origin-tls.js';

export interface OriginRequest {
  method: string;
  url: string;
  headers: HeaderMap;
  /** Request body to stream to the origin (unsafe methods); undefined → none. */
  body?: Readable;
}

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
   * Milliseconds for the response head to arrive, counted from the request's start (time spent
   * connecting included), and between body bytes.
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

/** Node's own default for idle sockets per host, written down: the pool policy is ours. */
const DEFAULT_IDLE_CONNECTIONS = 256;

/**
 * The only module that speaks HTTP to the origin, on node:http directly. No retries: a cache must
 * not repeat unsafe requests, and for safe ones a fast, clear 502/504 beats a slow one. The one
 * exception is a stale keep-alive connection (see isStaleConnection). No decompression and no
 * redirects: the cache stores and relays exactly what the origin sent.
 *
 * Connections: as many as requests need at once (no queue, so a miss never waits behind fetches
 * of other URLs; the client side's --max-connections bounds them), and up to `idleConnections`
 * kept open between requests, as nginx's `keepalive N` does.
 */
export function createOriginClient(options: OriginClientOptions): OriginClient {
  const maxBodySize = options.maxBodySize ?? Number.POSITIVE_INFINITY;
  const onFault = options.onFault ?? (() => {});
  const agentOptions: http.AgentOptions = {
    keepAlive: true,
    maxSockets: Number.POSITIVE_INFINITY,
    maxFreeSockets: options.idleConnections ?? DEFAULT_IDLE_CONNECTIONS,
  };
  // Every https connection, pooled or fresh, carries the same TLS options; the pool's rules
  // (idle connections kept, stray bytes never reused) are the same for both schemes.
  const tlsOptions = options.tls ?? { rejectUnauthorized: true };
  const agents: Record<string, http.Agent> = {
    'http:': guardedAgent(http.Agent, agentOptions, onFault),
    'https:': guardedAgent(https.Agent, { ...agentOptions, ...tlsOptions }, onFault),
  };

  /** One attempt; `fresh` forces a new connection (the retry after a stale pooled one). */
  function send(req: OriginRequest, startedAt: number, fresh: boolean): Promise<OriginResponse> {
    const requestTime = Date.now();
    return new Promise<OriginResponse>((resolve, reject) => {
      if (Number(req.headers['content-length']) > maxBodySize) {
        reject(new CacheError(ERRORS.bodyTooLarge));
        return;
      }
      let tooLarge = false;
      const body = req.body ? limitBody(req.body, maxBodySize, () => (tooLarge = true)) : undefined;
      let outgoing: http.ClientRequest;
      try {
        const url = new URL(req.url);
        const secure = url.protocol === 'https:';
        outgoing = (secure ? https : http).request(url, {
          method: req.method,
          headers: requestHeaders(req) as http.OutgoingHttpHeaders,
          agent: fresh ? false : agents[url.protocol],
          ...(secure ? tlsOptions : {}),
        });
      } catch (error) {
        reject(toCacheError(error));
        return;
      }
      let response: http.IncomingMessage | undefined;
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const settle = () => {
        settled = true;
        clearTimeout(deadline);
      };
      const fail = (error: CacheError) => {
        if (settled) return;
        settle();
        outgoing.destroy(error);
        reject(error);
      };
      // The head's deadline belongs to the fetch, whatever holds it up (getting a connection, an
      // origin that sends only 1xx, anything Node's own timers do not see). A request body is
      // sent at the client's pace, which --request-timeout bounds: the deadline stops once a
      // connection is there and starts again, whole, when the last body byte has gone.
      const armDeadline = (ms: number) => {
        clearTimeout(deadline);
        const cause = fault('ETIMEDOUT', `no response within ${options.timeout} ms`);
        deadline = setTimeout(() => fail(new CacheError(ERRORS.originTimeout, { cause })), Math.max(0, ms));
      };
      armDeadline(startedAt + options.timeout - Date.now());
      if (body) onConnected(outgoing, () => clearTimeout(deadline));
      outgoing.once('finish', () => {
        if (settled) return;
        if (body) armDeadline(options.timeout);
        // Idle time on the connection from now on: bounds an origin that stalls mid-body.
        outgoing.setTimeout(options.timeout);
      });
      outgoing.on('timeout', () => {
        const error = new CacheError(ERRORS.originTimeout, {
          cause: fault('ETIMEDOUT', `no byte from the origin for ${options.timeout} ms`),
        });
        if (response && !response.complete) response.destroy(error);
        outgoing.destroy(error);
      });
      outgoing.on('error', (error) => {
        if (!settled) {
          if (!fresh && isStaleConnection(req, outgoing, error)) {
            settle();
            resolve(send(req, startedAt, true));
            return;
          }
          fail(tooLarge ? new CacheError(ERRORS.bodyTooLarge, { cause: error }) : toCacheError(error));
          return;
        }
        if (!response) return;
        // Mid-body (a bad chunk, a reset): the body reports it. After a complete response, bytes
        // that are no response of ours (more than Content-Length, a body on a 304 or a HEAD
        // answer): the response stands as framed, as nginx serves it, and Node has closed the
        // connection, so those bytes can never be read as the answer to another request.
        if (!response.complete) response.destroy(error);
        else
          onFault(`the origin sent bytes after the end of the response (${error.message}); connection closed`, req.url);
      });
      // RFC 9110 §15.2.2: 101 only answers a request that asked to upgrade, and the cache never
      // forwards Upgrade (hop-by-hop). Node would hand over the socket and never settle.
      outgoing.on('upgrade', (head: http.IncomingMessage, socket: Duplex) => {
        socket.destroy();
        fail(
          new CacheError(ERRORS.originBadResponse, {
            cause: fault(
              'ERR_UNASKED_UPGRADE',
              `${head.statusCode} Switching Protocols to a request that asked for no upgrade`,
            ),
          }),
        );
      });
      outgoing.on('response', (incoming: http.IncomingMessage) => {
        if (settled) return void incoming.destroy();
        settle();
        response = incoming;
        // IncomingMessage reports a failure only to an 'error' listener: this one keeps it from
        // being lost before the caller listens; the caller finds it in `errored`.
        incoming.on('error', () => {});
        resolve({
          status: incoming.statusCode ?? 502,
          headers: withEveryAgeLine(incoming),
          body: incoming,
          requestTime,
          responseTime: Date.now(),
        });
      });
      if (!body) {
        outgoing.end();
        return;
      }
      body.once('error', (error) => outgoing.destroy(error));
      body.pipe(outgoing);
    });
  }

  return {
    request: (req) => send(req, Date.now(), false),
    close() {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  };
}

/** What went wrong, with a code as Node's own errors have (the log shows codes, and stacks only without one). */
function fault(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Calls `then` once the request has a connected socket (a pooled one at once, a new one when connected). */
function onConnected(outgoing: http.ClientRequest, then: () => void): void {
  outgoing.once('socket', (socket: Socket) => {
    if (!socket.connecting) return then();
    socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', then);
  });
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
function isStaleConnection(req: OriginRequest, outgoing: http.ClientRequest, error: unknown): boolean {
  if (req.body || (req.method !== 'GET' && req.method !== 'HEAD') || !outgoing.reusedSocket) return false;
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

/** Maps any origin failure (Node's or the socket's) onto the catalogue: timeouts → 504, the rest → 502. */
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
