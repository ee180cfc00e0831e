import http from 'node:http';
import type net from 'node:net';

/**
 * The one origin that nginx and the cache both sit in front of in the differential tests. A
 * target is `/<case>/<route>[/…]`: the case keeps each test's keys apart, the route says what the
 * origin does. Bodies depend only on the request, so both proxies can be held to the same bytes.
 */
export interface SeenByOrigin {
  method: string;
  url: string;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
}

export interface DifferentialOrigin {
  url: string;
  /** Every request that reached the origin, in order. */
  seen: SeenByOrigin[];
  /** Forgets how often each path was asked (routes such as stale-if-error change with it). */
  reset(): void;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, hits: number) => void;

const LAST_MODIFIED = 'Mon, 01 Jan 2024 00:00:00 GMT';
/** On every response the origin writes: a response without it was made by the proxy itself. */
const TEXT = { 'content-type': 'text/plain', 'x-origin': '1' };

/** A complete response with a Content-Length. */
function send(res: http.ServerResponse, status: number, headers: http.OutgoingHttpHeaders, body: string): void {
  res.writeHead(status, { ...TEXT, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Writes `bytes` on the connection itself (what no HTTP server library would send), then `then`. */
function raw(res: http.ServerResponse, bytes: string, then: 'end' | 'destroy' | 'reset' | 'hold' = 'end'): void {
  const socket = res.socket as net.Socket;
  socket.write(bytes, 'latin1');
  if (then === 'end') socket.end();
  else if (then === 'destroy') setImmediate(() => socket.destroy());
  else if (then === 'reset') setImmediate(() => socket.resetAndDestroy());
}

/** An origin that evaluates its validators as a careful server does (RFC 9110 §13.2.2 order). */
function validated(
  headers: http.OutgoingHttpHeaders,
  body: (req: http.IncomingMessage) => string,
  etag = '"v1"',
): Handler {
  return (req, res) => {
    const all = { ...headers, etag, 'last-modified': LAST_MODIFIED };
    const inm = req.headers['if-none-match'];
    const im = req.headers['if-match'];
    const ius = req.headers['if-unmodified-since'];
    const ims = req.headers['if-modified-since'];
    const listed = (value: string) =>
      value.split(',').some((v) => v.trim() === '*' || v.trim().replace(/^W\//, '') === etag);
    if (im !== undefined && !listed(im)) return send(res, 412, {}, 'precondition failed');
    if (im === undefined && ius !== undefined && Date.parse(ius) < Date.parse(LAST_MODIFIED)) {
      return send(res, 412, {}, 'precondition failed');
    }
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (inm !== undefined && listed(inm) && safe) {
      res.writeHead(304, { ...all, 'x-origin': '1' });
      return void res.end();
    }
    if (inm === undefined && ims !== undefined && safe && Date.parse(ims) >= Date.parse(LAST_MODIFIED)) {
      res.writeHead(304, { ...all, 'x-origin': '1' });
      return void res.end();
    }
    sendRange(req, res, all, body(req));
  };
}

/**
 * The whole body, or one range of it (RFC 9110 §14.2), as a static file server answers: neither
 * proxy forwards `Range` on a cacheable miss, but `Accept-Ranges` tells nginx it may cut ranges.
 */
function sendRange(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: http.OutgoingHttpHeaders,
  body: string,
): void {
  const all = { ...headers, 'accept-ranges': 'bytes' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  const size = Buffer.byteLength(body);
  if (!match || (match[1] === '' && match[2] === '')) return send(res, 200, all, body);
  const first = match[1] === '' ? Math.max(0, size - Number(match[2])) : Number(match[1]);
  const last = match[1] === '' || match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (first > last || first >= size) return send(res, 416, { ...all, 'content-range': `bytes */${size}` }, '');
  send(res, 206, { ...all, 'content-range': `bytes ${first}-${last}/${size}` }, body.slice(first, last + 1));
}

/** 2 MiB of text that says where each byte is, so that a range shows which bytes it cut. */
let largeBody: string | undefined;
const large = () =>
  (largeBody ??= Array.from({ length: 2 ** 21 / 16 }, (_, i) => String(i).padStart(15, '0') + '\n').join(''));

const describeRequest = (req: http.IncomingMessage) => `${req.method} ${req.url}`;
const CL_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Origin: 1\r\nCache-Control: max-age=60\r\n';

/** The routes, by the second path segment. */
const ROUTES: Record<string, Handler> = {
  // What reached the origin: method, target and body (length and bytes).
  echo: (req, res, body) =>
    send(
      res,
      200,
      { 'cache-control': 'no-store' },
      `${describeRequest(req)} body=${body.length}:${body.toString('latin1')}`,
    ),
  cacheable: validated({ 'cache-control': 'max-age=60' }, (req) => `cacheable ${req.url}`),
  'no-store': (req, res) => send(res, 200, { 'cache-control': 'no-store' }, `no-store ${req.url}`),
  private: (req, res) => send(res, 200, { 'cache-control': 'private, max-age=60' }, `private ${req.url}`),
  'no-cache': validated({ 'cache-control': 'no-cache' }, (req) => `no-cache ${req.url}`),
  'set-cookie': (req, res) =>
    send(res, 200, { 'cache-control': 'max-age=60', 'set-cookie': 'session=s3cret' }, `set-cookie ${req.url}`),
  'set-cookie-public': (req, res) =>
    send(res, 200, { 'cache-control': 'public, max-age=60', 'set-cookie': 'session=s3cret' }, `scp ${req.url}`),
  vary: (req, res) =>
    send(res, 200, { 'cache-control': 'max-age=60', vary: 'X-V' }, `vary ${req.headers['x-v'] ?? '(none)'}`),
  'vary-star': (req, res) => send(res, 200, { 'cache-control': 'max-age=60', vary: '*' }, `vary-star ${req.url}`),
  's-maxage': (req, res) => send(res, 200, { 'cache-control': 'max-age=0, s-maxage=60' }, `s-maxage ${req.url}`),
  expires: (req, res) => send(res, 200, { expires: new Date(Date.now() + 60_000).toUTCString() }, `expires ${req.url}`),
  heuristic: (req, res) => send(res, 200, { 'last-modified': LAST_MODIFIED }, `heuristic ${req.url}`),
  'no-freshness': (req, res) => send(res, 200, {}, `no-freshness ${req.url}`),
  // Already older than its lifetime when it arrives (RFC 9111 §4.2.3).
  'age-stale': (req, res) => send(res, 200, { 'cache-control': 'max-age=60', age: '100' }, `age-stale ${req.url}`),
  'expires-invalid': (req, res) => send(res, 200, { expires: '0' }, `expires-invalid ${req.url}`),
  // max-age wins over Expires (RFC 9111 §5.3).
  'max-age-over-expires': (req, res) =>
    send(res, 200, { 'cache-control': 'max-age=60', expires: 'Sat, 01 Jan 2000 00:00:00 GMT' }, `mae ${req.url}`),
  'no-cache-field': (req, res) =>
    send(
      res,
      200,
      { 'cache-control': 'no-cache="set-cookie", max-age=60', 'set-cookie': 'session=s3cret' },
      `ncf ${req.url}`,
    ),
  'vary-encoding': (req, res) =>
    send(
      res,
      200,
      { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' },
      `ae ${req.headers['accept-encoding'] ?? '(none)'}`,
    ),
  'status-302': (req, res) => send(res, 302, { 'cache-control': 'max-age=60', location: '/elsewhere' }, 'found'),
  'status-307': (req, res) => send(res, 307, { 'cache-control': 'max-age=60', location: '/elsewhere' }, 'temporary'),
  'status-410': (req, res) => send(res, 410, { 'last-modified': LAST_MODIFIED }, `gone ${req.url}`),
  // Two megabytes: past the memory tier, read back from disk (and cut into ranges there).
  large: (req, res) => send(res, 200, { 'cache-control': 'max-age=60', 'accept-ranges': 'bytes' }, large()),
  'status-404': (req, res) => send(res, 404, { 'cache-control': 'max-age=60' }, `404 ${req.url}`),
  'status-500': (req, res) => send(res, 500, { 'cache-control': 'max-age=60' }, `500 ${req.url}`),
  'status-301': (req, res) => send(res, 301, { 'cache-control': 'max-age=60', location: '/elsewhere' }, 'moved'),
  'status-204': (_req, res) => {
    res.writeHead(204, { 'cache-control': 'max-age=60', 'x-origin': '1' });
    res.end();
  },
  chunked: (req, res) => {
    res.writeHead(200, { ...TEXT, 'cache-control': 'max-age=60', 'accept-ranges': 'bytes' });
    res.write('chunked ');
    res.end(req.url);
  },
  // Fresh for a second, then failing: stale-if-error serves the first body.
  'stale-if-error': (req, res, _body, hits) =>
    hits === 1
      ? send(res, 200, { 'cache-control': 'max-age=1, stale-if-error=600', etag: '"s1"' }, `sie ${req.url}`)
      : send(res, 503, { 'cache-control': 'no-store' }, 'down'),
  'stale-if-reset': (req, res, _body, hits) =>
    hits === 1
      ? send(res, 200, { 'cache-control': 'max-age=1, stale-if-error=600', etag: '"s1"' }, `sir ${req.url}`)
      : (res.socket as net.Socket).destroy(),
  // Fresh for a second; validated, it says so with a 304 that gives it a minute (RFC 9111 §4.3.4:
  // the stored response takes the 304's Cache-Control).
  revalidate: (req, res) =>
    req.headers['if-none-match'] === '"r1"'
      ? (res.writeHead(304, { 'x-origin': '1', etag: '"r1"', 'cache-control': 'max-age=60' }), void res.end())
      : send(res, 200, { 'cache-control': 'max-age=1', etag: '"r1"' }, `revalidate ${req.url}`),
  // Fresh for a second, and a new representation (new ETag, new body) at every request.
  changing: (req, res, _body, hits) =>
    send(res, 200, { 'cache-control': 'max-age=1', etag: `"c${hits}"` }, `changing ${hits} ${req.url}`),
  // One variant per X-V value, each with its own validator, fresh for a second.
  'revalidate-vary': (req, res) => {
    const etag = `"x-${req.headers['x-v'] ?? 'none'}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { 'x-origin': '1', etag, vary: 'X-V', 'cache-control': 'max-age=60' });
      return void res.end();
    }
    send(res, 200, { 'cache-control': 'max-age=1', etag, vary: 'X-V' }, `variant ${req.headers['x-v'] ?? '(none)'}`);
  },
  // Origin faults, on the raw connection.
  'cl-long': (_req, res) => raw(res, `${CL_HEAD}Content-Length: 10\r\n\r\n${'0123456789'}${'x'.repeat(30)}`, 'hold'),
  'cl-short': (_req, res) => raw(res, `${CL_HEAD}Content-Length: 40\r\n\r\n0123456789`),
  'reset-head': (_req, res) => (res.socket as net.Socket).destroy(),
  'reset-mid': (_req, res) => raw(res, `${CL_HEAD}Content-Length: 40\r\n\r\n0123456789`, 'destroy'),
  // A body delimited by the connection's end, cut by a reset (an error, not an end).
  'close-reset': (_req, res) => raw(res, `${CL_HEAD}Connection: close\r\n\r\n0123456789`, 'reset'),
  'bad-chunk': (_req, res) => raw(res, `${CL_HEAD}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n0\r\n\r\n`),
  'interim-100': (req, res) => {
    res.writeContinue();
    send(res, 200, { 'cache-control': 'max-age=60' }, `after 100 ${req.url}`);
  },
  'interim-103': (req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' });
    send(res, 200, { 'cache-control': 'max-age=60' }, `after 103 ${req.url}`);
  },
  'switch-101': (_req, res) =>
    raw(res, 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'hold'),
  // Answers after 100 ms: a response the next pipelined one waits behind.
  slow: (req, res) => setTimeout(() => send(res, 200, { 'cache-control': 'no-store' }, `slow ${req.url}`), 100),
  // Never answers: the proxy's own timeout decides.
  'no-head': () => {},
};

/** Starts the origin on a free loopback port. */
export async function startDifferentialOrigin(): Promise<DifferentialOrigin> {
  const seen: SeenByOrigin[] = [];
  const hits = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      const path = (req.url ?? '/').split('?')[0] as string;
      const count = (hits.get(path) ?? 0) + 1;
      hits.set(path, count);
      const route = ROUTES[path.split('/')[2] ?? ''];
      if (route) return route(req, res, body, count);
      send(res, 404, {}, `no route ${req.url}`);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A held fault connection is released once the proxies gave up on it.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    reset: () => hits.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
