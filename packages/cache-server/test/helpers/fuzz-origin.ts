import http from 'node:http';
import type net from 'node:net';
import { DATES, type OriginReply } from './fuzz-model.js';

/** One response the origin produced, with what is needed to judge every later use of it. */
export interface OriginRecord {
  id: number;
  /** The target the origin was asked for. */
  path: string;
  method: string;
  /** `X-Req` of the request that made it (the one client request it was made for). */
  reqId: string;
  requestHeaders: http.IncomingHttpHeaders;
  reply: OriginReply;
  /** The status sent (304 when a conditional request was honoured). */
  status: number;
  /** The body bytes sent (all of them for a complete response). */
  body: Buffer;
  /** The length the response announced (more than `body` when the origin sent it short). */
  length: number;
  /** False when the origin broke this response (reset, short, bad chunk, never sent). */
  complete: boolean;
}

/** When a request reached the origin and when its response head went out, on the test's clock. */
export interface Arrival {
  /** `X-Req` of the client request it was made for. */
  reqId: string;
  path: string;
  /** The request head was read (Date.now()). */
  arrivedAt: number;
  /** The response head was written; undefined while (or if never) answered. */
  answeredAt?: number;
}

export interface FuzzOrigin {
  url: string;
  /** Every response by its id (`X-Origin-Id`). */
  records: Map<number, OriginRecord>;
  /** Every request the origin read the head of, in order (with a body or not, finished or not). */
  arrivals: Arrival[];
  /** Sets what `path` answers: its n-th request gets replies[(n - 1) % length]. */
  program(path: string, replies: OriginReply[]): void;
  close(): Promise<void>;
}

/**
 * Each response's Last-Modified is its own (a second per id after 2024-01-01): a validator must
 * change when the body does, or a cache may rightly pair new fields with an old body.
 */
const lastModified = (id: number) => new Date(Date.UTC(2024, 0, 1) + id * 1_000).toUTCString();
/** How many bytes short a `short-body` response stops. */
const SHORT_BY = 10;
/** Written after a body longer than its Content-Length: a whole forged response. */
const FORGED = 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\nCache-Control: max-age=600\r\nX-Origin-Id: 0\r\n\r\nforged';

/** Body bytes that name their response: `#<id>#` then filler made from the id. */
function bodyFor(id: number, size: number): Buffer {
  const text = `#${id}#`.padEnd(size, String.fromCharCode(97 + (id % 26)));
  return Buffer.from(text.slice(0, size), 'latin1');
}

/**
 * The complete earlier response for the same path that the request's validators name: its ETag in
 * `If-None-Match`, or (without one) its Last-Modified in `If-Modified-Since`. The origin then
 * vouches that it is current (a 304).
 */
function validatedId(req: http.IncomingMessage, records: Map<number, OriginRecord>, path: string): number | undefined {
  const usable = (record: OriginRecord | undefined) =>
    record !== undefined && record.path === path && record.complete && record.status === 200;
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    for (const tag of inm.split(',')) {
      const record = records.get(Number(/^\s*(?:W\/)?"(\d+)"\s*$/.exec(tag)?.[1]));
      if (record && usable(record) && record.reply.etag) return record.id;
    }
    return undefined;
  }
  const ims = req.headers['if-modified-since'];
  if (ims === undefined) return undefined;
  const id = (Date.parse(ims) - Date.UTC(2024, 0, 1)) / 1_000;
  const record = records.get(id);
  return usable(record) && record?.reply.lastModified ? id : undefined;
}

/**
 * An origin that plays the fuzzer's replies on the raw connection (every framing, every fault)
 * and remembers each response it made. Request bodies are read by Node's server; responses are
 * written byte by byte by us.
 */
export async function startFuzzOrigin(originTimeoutMs: number): Promise<FuzzOrigin> {
  const programs = new Map<string, OriginReply[]>();
  const hits = new Map<string, number>();
  const records = new Map<number, OriginRecord>();
  const sockets = new Set<net.Socket>();
  let nextId = 1;

  // Responses are written on the connection itself (req.socket: a pipelined request's `res` has
  // no socket until the one before it ends, and ours never end).
  const arrivals: Arrival[] = [];
  const server = http.createServer((req) => {
    const arrival: Arrival = { reqId: String(req.headers['x-req'] ?? ''), path: req.url ?? '/', arrivedAt: Date.now() };
    arrivals.push(arrival);
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '/';
      const replies = programs.get(path);
      const socket = req.socket;
      if (!replies) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      const count = (hits.get(path) ?? 0) + 1;
      hits.set(path, count);
      const reply = replies[(count - 1) % replies.length] as OriginReply;
      const id = nextId++;
      const validated =
        reply.honourConditionals && ['GET', 'HEAD'].includes(req.method ?? '')
          ? validatedId(req, records, path)
          : undefined;
      const status = validated !== undefined ? 304 : reply.status;
      // Faults that break the body need one to break.
      const size = ['reset-mid-body', 'short-body', 'long-body', 'bad-chunk'].includes(reply.fault)
        ? Math.max(reply.size, 10)
        : reply.size;
      const hasBody = status !== 204 && status !== 304 && req.method !== 'HEAD';
      const body = status === 204 || status === 304 ? Buffer.alloc(0) : bodyFor(id, size);
      const noHead = reply.fault === 'reset-before-head' || reply.fault === 'switch-101';
      const brokenBody = hasBody && ['reset-mid-body', 'short-body', 'bad-chunk'].includes(reply.fault);
      records.set(id, {
        id,
        path,
        method: req.method ?? '',
        reqId: String(req.headers['x-req'] ?? ''),
        requestHeaders: req.headers,
        reply,
        status,
        body,
        length: reply.fault === 'short-body' ? body.length + SHORT_BY : body.length,
        complete: !noHead && !brokenBody,
      });
      const write = () => {
        if (!socket.destroyed) arrival.answeredAt = Date.now();
        respond(socket, { id, path, reply, status, body, hasBody, validated });
      };
      if (reply.fault === 'reset-before-head') return void socket.resetAndDestroy();
      if (reply.fault === 'switch-101') {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
        return;
      }
      const delay = reply.fault === 'slow-head' ? originTimeoutMs + 300 : reply.delay;
      if (delay > 0) setTimeout(write, delay);
      else write();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    records,
    arrivals,
    program: (path, replies) => programs.set(path, replies),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function respond(
  socket: net.Socket,
  r: {
    id: number;
    path: string;
    reply: OriginReply;
    status: number;
    body: Buffer;
    hasBody: boolean;
    validated?: number;
  },
): void {
  if (socket.destroyed) return;
  const { reply, status, body, hasBody } = r;
  const lines = [
    `HTTP/1.1 ${status} Fuzz`,
    'Content-Type: application/octet-stream',
    `Date: ${new Date().toUTCString()}`,
  ];
  // A 304 names the response it validates and carries no X-Origin-Id: the stored one stays.
  if (status !== 304) lines.push(`X-Origin-Id: ${r.id}`);
  if (reply.cacheControl) lines.push(`Cache-Control: ${reply.cacheControl}`);
  if (reply.expires) lines.push(`Expires: ${reply.expires === 'past' ? DATES.past : DATES.future}`);
  // A 304 carries the validators of the response it validates.
  const own = r.validated ?? r.id;
  if (reply.lastModified) lines.push(`Last-Modified: ${lastModified(own)}`);
  if (reply.etag) lines.push(`ETag: "${own}"`);
  if (reply.vary) lines.push(`Vary: ${reply.vary}`);
  if (reply.setCookie) lines.push(`Set-Cookie: sid=${r.id}; Path=/`);
  if (reply.contentLocation) lines.push(`Content-Location: ${r.path}`);
  if (reply.age !== undefined) lines.push(`Age: ${reply.age}`);
  const framing =
    reply.fault === 'bad-chunk'
      ? 'chunked'
      : ['short-body', 'long-body'].includes(reply.fault)
        ? 'length'
        : reply.framing;
  if (reply.interim) {
    socket.write(
      reply.interim === 100
        ? 'HTTP/1.1 100 Continue\r\n\r\n'
        : 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n',
    );
  }
  const noBodyStatus = status === 204 || status === 304;
  if (noBodyStatus) {
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return;
  }
  if (framing === 'length') {
    const announced = reply.fault === 'short-body' ? body.length + SHORT_BY : body.length;
    lines.push(`Content-Length: ${announced}`);
  } else if (framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  else lines.push('Connection: close');
  const head = `${lines.join('\r\n')}\r\n\r\n`;
  if (!hasBody) {
    socket.write(head);
    if (framing === 'close') socket.end();
    return;
  }
  const half = body.subarray(0, Math.floor(body.length / 2));
  switch (reply.fault) {
    case 'reset-mid-body':
      socket.write(head);
      socket.write(framing === 'chunked' ? chunk(half) : half);
      return void setImmediate(() => socket.resetAndDestroy());
    case 'short-body':
      socket.write(head);
      socket.end(body);
      return;
    case 'long-body':
      socket.write(head);
      socket.write(Buffer.concat([body, Buffer.from(FORGED)]));
      return;
    case 'bad-chunk':
      socket.write(head);
      socket.end(Buffer.concat([chunk(half), Buffer.from('zz\r\nnot a chunk\r\n0\r\n\r\n')]));
      return;
    default:
      break;
  }
  if (framing === 'length') socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  else if (framing === 'chunked') {
    socket.write(
      Buffer.concat([
        Buffer.from(head, 'latin1'),
        chunk(half),
        chunk(body.subarray(half.length)),
        Buffer.from('0\r\n\r\n'),
      ]),
    );
  } else socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

/** One chunk of a chunked body (an empty slice writes nothing: a zero-size chunk would end the body). */
function chunk(data: Buffer): Buffer {
  if (data.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}
