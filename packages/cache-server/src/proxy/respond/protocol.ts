import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { constants, type Http2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import type { HeaderMap } from '@simple-cache/common';
import { ERRORS } from '../../errors.js';

/**
 * Where HTTP/1.1 and HTTP/2 responses differ for the cache, in one place. The proxy writes to
 * Node's response objects, and over HTTP/2 those are the compatibility layer's
 * (Http2ServerResponse): no connection-specific fields, no socket of its own (`res.socket` reads
 * through to the connection's), and "close the connection" is a GOAWAY on the session.
 */

/**
 * RFC 9113 §8.2.2: an HTTP/2 message carrying connection-specific fields is malformed. Node drops
 * `connection` with a process warning and refuses the others outright, so they never reach it.
 * `http2-settings` (RFC 7540 §3.2.1, an h2c upgrade's) is one too, and `te` (a request field,
 * allowed over HTTP/2 only as `trailers`) means nothing on a response: FINDINGS F18.
 */
const CONNECTION_SPECIFIC_FIELDS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'te',
];

/**
 * The refusals that are about the connection, not the request: over HTTP/2 they end the session
 * (GOAWAY). Any other `Connection: close` (a bad target, an unread body: HTTP/1.1 cannot tell
 * the next request from the rest of this one) concerns one stream only, which its response ends;
 * the session's other streams and later ones go on, as nginx does.
 */
const SESSION_REFUSALS: ReadonlySet<string> = new Set([
  ERRORS.tooManyConnections.code,
  ERRORS.overloaded.code,
  ERRORS.shuttingDown.code,
]);

/** The HTTP/2 stream under a response, or undefined for HTTP/1.x. */
export function http2StreamOf(res: ServerResponse): Http2Stream | undefined {
  return (res as { stream?: Http2Stream }).stream;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * Sends the head given to writeHead now, before any body byte. Not `flushHeaders()` on HTTP/1.x:
 * Node writes the head there as UTF-8 (its `_send('')` joins the head to an empty string chunk
 * of the default encoding), so a field value's obs-text byte (RFC 9110 §5.5), say a Latin-1 `é`
 * (0xE9) or the raw UTF-8 of a `Content-Disposition` filename, reached the client re-encoded on a
 * miss (0xC3 0xA9; 0xC3 0x83 0xC2 0xA9) while a hit sent the origin's bytes. An empty Buffer goes
 * the other way in `_send`: the head is written as latin1, byte for byte what the origin sent.
 */
export function sendHeadNow(res: ServerResponse): void {
  if (http2StreamOf(res) !== undefined) res.flushHeaders();
  else res.write(NO_BYTES);
}

/**
 * `headers` as the client's protocol takes them. Over HTTP/2 the connection-specific fields are
 * left out, and a refusal for load or shutdown (SESSION_REFUSALS) becomes a graceful GOAWAY once
 * this response is done: the client opens no new stream on the connection, the ones in progress
 * finish.
 */
export function headersForClient(res: ServerResponse, headers: HeaderMap): HeaderMap {
  const stream = http2StreamOf(res);
  if (stream === undefined) return headers;
  if (!CONNECTION_SPECIFIC_FIELDS.some((name) => headers[name] !== undefined)) return headers;
  const out = { ...headers };
  for (const name of CONNECTION_SPECIFIC_FIELDS) delete out[name];
  // The stream leaves its session once closed: hold on to the session now.
  const session = stream.session;
  if (session !== undefined && SESSION_REFUSALS.has(String(headers['x-cache-error']))) {
    res.once('close', () => {
      if (!session.closed && !session.destroyed) session.close();
    });
  }
  return out;
}

/**
 * Whether the request has a body to forward. HTTP/1.1 says so in its framing fields; an HTTP/2
 * request needs neither (RFC 9113 §8.1: DATA frames carry it, Content-Length is optional), so
 * there it is whether the HEADERS frame left the stream open.
 */
export function hasRequestBody(req: IncomingMessage): boolean {
  const stream = (req as { stream?: Http2Stream }).stream;
  if (stream !== undefined) return !stream.endAfterHeaders;
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The request body to forward, failing when the client abandons it (FINDINGS F19). Over HTTP/1.1
 * Node's request errs (`aborted`, ECONNRESET) when the connection goes before the body's end, so
 * the origin request is destroyed, never ended. Over HTTP/2 the compatibility request emits
 * `'aborted'` (RST_STREAM from the client, or its session gone) and then ends its readable side
 * as if the body were complete, which would send the origin a terminating chunk: a truncated
 * upload taken for a whole one. So there an abandoned stream destroys the request with the same
 * error, before that end.
 */
export function requestBodyOf(req: IncomingMessage): Readable {
  const stream = (req as { stream?: Http2Stream }).stream;
  if (stream === undefined) return req;
  const abandon = () => {
    if (req.readableEnded) return;
    req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  };
  if (req.readableAborted || (stream.closed && stream.rstCode !== constants.NGHTTP2_NO_ERROR)) abandon();
  else req.once('aborted', abandon);
  return req;
}

/**
 * FINDINGS F9: a body delimited by the connection's end (neither Content-Length nor chunking: an
 * HTTP/1.0 client, RFC 9112 §6.3) cannot show it was cut short, since a clean close is how such
 * a body ends. When the cache gives up on one mid-body (the origin failed: `res.destroy()`), the
 * connection is reset instead (RST), so the client's read fails, as it does over HTTP/1.1 for a
 * short Content-Length or a missing last chunk. Call once the head is written.
 */
export function resetWhenCutShort(res: ServerResponse): void {
  if (http2StreamOf(res) !== undefined || res.hasHeader('content-length')) return;
  if ((res as { chunkedEncoding?: boolean }).chunkedEncoding === true) return;
  const socket = res.socket;
  if (!(socket instanceof Socket)) return;
  const destroy = res.destroy.bind(res);
  res.destroy = (error?: Error) => {
    if (!res.writableFinished && !socket.destroyed) {
      try {
        socket.resetAndDestroy();
      } catch {
        // Not a plain TCP socket (TLS): a close is all there is.
      }
    }
    return destroy(error);
  };
}
