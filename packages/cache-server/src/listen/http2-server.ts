import http2, { type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheServerConfig } from '@simple-cache/common';
import type { Logger } from 'pino';
import { readClientAddressesOf, rememberClientAddress } from '../client-address.js';
import { applyStreamIdleTimeout } from '../limits/idle-timeout.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/**
 * A client that cancels this many streams that were still being answered (RST_STREAM from the
 * client, CVE-2023-44487 "rapid reset") within CANCEL_WINDOW_MS, as `max-streams` multiples, is
 * cut off: GOAWAY ENHANCE_YOUR_CALM and the connection closed. Each cancelled stream may have
 * started an origin fetch (it goes on for the store) while freeing its slot among max-streams at
 * once, so without this bound one connection could start fetches at the rate it can send frames.
 * A browser cancels streams when a page is left, a few dozen at a time at most.
 */
const CANCELS_PER_WINDOW = 2;
/** nghttp2's session memory bound, in MB: out of reach of its accounting leak (see below). */
const SESSION_MEMORY_MB = 1_000_000;
const CANCEL_WINDOW_MS = 10_000;

export interface Http2Listener {
  /** Never listens itself: the TLS listener hands it the connections that chose `h2` (ALPN). */
  server: Http2Server;
  /** Open sessions: GOAWAY to each on close, so they finish their streams and end. */
  readonly sessions: ReadonlySet<Http2Session>;
  /** Sends GOAWAY to every session (graceful: streams in progress finish) and resolves once all have ended. */
  close(): Promise<void>;
}

type Limits = Pick<CacheServerConfig, 'maxStreams' | 'maxHeaderSize' | 'idleTimeout'>;

/**
 * The HTTP/2 side (RFC 9113) of the TLS listener: the same request handler as HTTP/1.1, through
 * Node's compatibility API, with the client-side limits HTTP/2 needs on top of the HTTP/1.1 ones
 * (docs/hardening.md): concurrent streams per connection, header list size, per-stream idle
 * timeout, cancelled-stream floods; nghttp2 itself bounds RST_STREAM and other control frames
 * (1000 at once, then 33/s), invalid frames (maxSessionInvalidFrames) and refused streams.
 */
export function createHttp2Listener(
  config: Limits,
  keepAliveTimeoutMs: number,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  log: Pick<Logger, 'warn' | 'debug'>,
  /** Whether each request's client address is kept for the access log (client-address.ts). */
  namesClients: boolean,
): Http2Listener {
  const server = http2.createServer({
    settings: {
      maxConcurrentStreams: config.maxStreams,
      // The same bound as an HTTP/1.1 head (--max-header-size); nghttp2 counts each field as
      // name + value + 32 bytes (RFC 9113 §6.5.2).
      maxHeaderListSize: config.maxHeaderSize,
    },
    // Streams opened beyond max-streams are refused; a client that keeps doing it is cut off.
    maxSessionRejectedStreams: 100,
    // Node counts the bytes queued for a stream the client resets against this bound and never
    // gives them back: at its default (10 MB) a few cancelled downloads made the session refuse
    // every new stream with ENHANCE_YOUR_CALM, for good (FINDINGS F21). What a session really
    // holds is bounded by each stream's back-pressure and --max-streams.
    maxSessionMemory: SESSION_MEMORY_MB,
  });
  // Node's compatibility API types its objects as Http2ServerRequest/Response; the handler only
  // uses what both protocols' objects have (proxy/respond/protocol.ts covers the differences).
  const onRequest = namesClients
    ? (req: IncomingMessage, res: ServerResponse) => {
        // Now: once the stream has closed its request no longer reaches the session's socket,
        // whose address was read as the connection was accepted (no system call here).
        rememberClientAddress(req, req.socket.remoteAddress);
        handle(req, res);
      }
    : handle;
  if (namesClients) readClientAddressesOf(server);
  server.on('request', onRequest as unknown as Parameters<Http2Server['on']>[1]);
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // An idle connection is closed as an HTTP/1.1 keep-alive one is: after keepAliveTimeoutMs.
    session.setTimeout(keepAliveTimeoutMs, () => session.close());
    session.on('error', (error: Error) => log.debug({ err: error }, 'HTTP/2 session error'));
    watchCancels(session, config.maxStreams * CANCELS_PER_WINDOW, log);
  });
  server.on('stream', (stream: ServerHttp2Stream) => {
    // A client that stops reading (or sending) one stream loses that stream, not its connection.
    applyStreamIdleTimeout(stream, config.idleTimeout, () => stream.close(NGHTTP2_CANCEL));
  });
  return {
    server,
    sessions,
    close: async () => {
      const ended = [...sessions].map((session) => new Promise<void>((resolve) => session.once('close', resolve)));
      for (const session of sessions) if (!session.closed) session.close();
      await Promise.all(ended);
    },
  };
}

/**
 * Counts streams the client resets while the cache is still answering them; past `limit` in a
 * window the session is destroyed with GOAWAY ENHANCE_YOUR_CALM (RFC 9113 §5.4.1).
 */
function watchCancels(session: Http2Session, limit: number, log: Pick<Logger, 'warn'>): void {
  let windowStart = 0;
  let cancels = 0;
  session.on('stream', (stream: ServerHttp2Stream) => {
    stream.once('aborted', () => {
      const now = performance.now();
      if (now - windowStart > CANCEL_WINDOW_MS) {
        windowStart = now;
        cancels = 0;
      }
      cancels++;
      if (cancels <= limit || session.destroyed) return;
      log.warn(
        { remoteAddress: session.socket?.remoteAddress, cancels, windowMs: CANCEL_WINDOW_MS },
        'HTTP/2 client cancels streams faster than allowed (rapid reset); connection closed',
      );
      session.destroy(undefined, NGHTTP2_ENHANCE_YOUR_CALM);
    });
  });
}
