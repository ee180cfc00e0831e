import type { Server as HttpServer } from 'node:http';
import type { Http2Server } from 'node:http2';
import tls, { type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

export interface TlsListener {
  server: tls.Server;
  /** New handshakes use `options` from now on; connections already open keep theirs. */
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * The TLS listener (`--tls-port`): it only terminates TLS and lets ALPN (RFC 7301) choose the
 * protocol, then hands the decrypted connection to the server for that protocol, as if that
 * server had accepted it: `h2` to the HTTP/2 server, `http/1.1` (or no ALPN) to the very
 * http.Server of the plain port. So HTTPS/1.1 has everything plain HTTP/1.1 has (limits,
 * timeouts, client-error answers, connection counting, graceful close) by construction, rather
 * than the subset Node's `http2.createSecureServer({ allowHTTP1 })` copies onto itself.
 */
export function createTlsListener(
  context: SecureContextOptions,
  targets: { http: HttpServer; h2: Http2Server },
  options: { handshakeTimeoutMs: number },
  log: Pick<Logger, 'debug'>,
): TlsListener {
  const server = tls.createServer({
    ...context,
    ALPNProtocols: ['h2', 'http/1.1'],
    // RFC 9113 §9.2: HTTP/2 over TLS 1.2 or later; nothing older for HTTP/1.1 either (RFC 8996).
    minVersion: 'TLSv1.2',
    // A client that opens a connection and never finishes the handshake holds a socket: the same
    // bound as a client that never finishes its request head (--headers-timeout).
    handshakeTimeout: options.handshakeTimeoutMs,
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const target = socket.alpnProtocol === 'h2' ? targets.h2 : targets.http;
    target.emit('connection', socket);
  });
  // Failed handshakes (a scanner, a client that does not trust the certificate) are the
  // client's business: one debug line, never an unhandled error.
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    log.debug({ err: error, remoteAddress: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });
  return { server, setSecureContext: (next) => server.setSecureContext(next) };
}
