import type { ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { HeaderMap } from '@simple-cache/common';
import type { Exchange, ProxyDeps } from '../context.js';
import { interimFields } from './heads.js';
import { http2StreamOf } from './protocol.js';

/** The interim statuses relayed: 102 Processing (RFC 2518 §10.1) and 103 Early Hints (RFC 8297). */
const RELAYED = new Set([102, 103]);

/**
 * The most interim responses relayed to one request. An origin may send any number before its
 * final response, and each relayed one is written to the client whether it reads or not: an
 * origin that kept sending `103`s to a client that did not read grew the cache's memory by about
 * 40 MB a second until `--origin-timeout` (FINDINGS F28). Browsers act on the first `103` only;
 * a few more leave room for a `102` every so often from a slow origin. The rest are read from
 * the origin and dropped (RFC 9110 §15.2's "MUST forward" yields to the cache's own limits here,
 * as nginx 1.22 relays none).
 */
export const MAX_RELAYED_INTERIMS = 8;
const relayedTo = new WeakMap<ServerResponse, number>();

/**
 * Relays an interim response from the origin to the client waiting for this exchange's final
 * one (RFC 9110 §15.2: a proxy MUST forward 1xx responses unless it asked for them itself): 103
 * lets a browser start loading what the page will need while the origin is still at work. It is
 * never stored, so a hit has none. Not relayed:
 * - 100 Continue: the cache answers `Expect` itself (limits/expect-continue.ts), and 101 never
 *   gets here (a 502, origin-client.ts); statuses without a meaning nobody would act on;
 * - once the final head is written, and to an HTTP/1.0 client (§15.2: MUST NOT);
 * - to a pipelined request whose turn has not come: Node would queue the interim's bytes behind
 *   the response being written, where they land inside its body (FINDINGS F12). A hint is
 *   advisory; the client loses nothing but time.
 */
export function sendInterim(exchange: Exchange, deps: ProxyDeps, status: number, headers: HeaderMap): void {
  const { req, res } = exchange;
  if (!RELAYED.has(status) || res.headersSent || res.writableEnded || res.destroyed) return;
  const relayed = relayedTo.get(res) ?? 0;
  if (relayed >= MAX_RELAYED_INTERIMS) return;
  relayedTo.set(res, relayed + 1);
  const fields = interimFields(headers, deps.heads);
  try {
    const stream = http2StreamOf(res);
    if (stream !== undefined) {
      // RFC 9113 §8.1: an interim response is a HEADERS frame ahead of the final one.
      if (!stream.closed) (stream as ServerHttp2Stream).additionalHeaders({ ...fields, ':status': status });
      return;
    }
    if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return;
    // Node's own notion of "this response owns the socket now" (lib/_http_server.js).
    if ((res.socket as { _httpMessage?: unknown } | null)?._httpMessage !== res) return;
    if (status === 102) res.writeProcessing();
    // Node writes a 103 only with a Link (it validates it); one without says nothing to act on.
    else if (fields.link !== undefined) res.writeEarlyHints(fields as Record<string, string | string[]>);
  } catch (error) {
    exchange.log.debug({ err: error, status }, 'interim response not relayed');
  }
}
