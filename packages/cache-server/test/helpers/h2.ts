import { once } from 'node:events';
import http2, { type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import tls from 'node:tls';

/** One HTTP/2 response, read whole. */
export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTP/2 connection over TLS (ALPN h2) to `url`, trusting `ca`. */
export function connectH2(url: string, ca: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ca });
    session.once('connect', () => {
      session.off('error', reject);
      session.on('error', () => {});
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** One request on `session`: exact method, path and headers; the body sent whole. */
export function h2Request(
  session: ClientHttp2Session,
  path: string,
  options: { method?: string; headers?: OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      { ':method': options.method ?? 'GET', ':path': path, ...options.headers },
      { endStream: options.body === undefined },
    );
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      headers = received;
      status = Number(received[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
    stream.on('close', () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR && status === 0) {
        reject(new Error(`stream reset with code ${stream.rstCode}`));
      }
    });
    if (options.body !== undefined) stream.end(options.body);
  });
}

/** Closes a session and waits for it. */
export function closeH2(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.destroyed) return resolve();
    session.close(() => resolve());
  });
}

/** One HTTP/2 frame (RFC 9113 §4.1). */
function h2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal without indexing whose name is static table entry `index` (RFC 7541 §6.2.2). */
function hpackLiteral(index: number, value: string): Buffer {
  return Buffer.concat([Buffer.from([index, value.length]), Buffer.from(value)]);
}

/**
 * An upload over HTTP/2 that the client abandons on the wire: HEADERS and DATA `body` on stream 1
 * without END_STREAM, then, once `abandon` resolves, RST_STREAM with `code` (or the connection
 * closed, when `code` is undefined). Written frame by frame over TLS because node:http2's
 * `stream.close(code)` sends an END_STREAM before its RST_STREAM (the body looks complete first).
 */
export async function abandonedH2Upload(
  url: string,
  ca: string,
  request: { method: string; path: string; authority: string; body: string },
  abandon: Promise<unknown>,
  code?: number,
): Promise<void> {
  const target = new URL(url);
  const socket = tls.connect({ host: target.hostname, port: Number(target.port), ca, ALPNProtocols: ['h2'] });
  socket.on('error', () => {});
  socket.resume();
  await once(socket, 'secureConnect');
  const method = request.method === 'POST' ? Buffer.from([0x83]) : hpackLiteral(2, request.method);
  const headers = Buffer.concat([
    method,
    Buffer.from([0x87]), // :scheme https
    hpackLiteral(4, request.path),
    hpackLiteral(1, request.authority),
  ]);
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      h2Frame(0x4, 0, 0, Buffer.alloc(0)), // SETTINGS
      h2Frame(0x1, 0x4, 1, headers), // HEADERS, END_HEADERS
      h2Frame(0x0, 0, 1, Buffer.from(request.body)), // DATA, no END_STREAM
    ]),
  );
  await abandon;
  if (code === undefined) {
    socket.destroy();
    return;
  }
  const reason = Buffer.alloc(4);
  reason.writeUInt32BE(code);
  socket.end(h2Frame(0x3, 0, 1, reason)); // RST_STREAM
}
