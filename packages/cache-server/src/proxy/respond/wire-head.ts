import { ServerResponse, type IncomingMessage } from 'node:http';
import { LRUCache } from 'lru-cache';

/**
 * A response head serialised once, as Node's `ServerResponse.writeHead` serialises it, and handed
 * to the responses that send it (the fast hit path, issue 15).
 *
 * Why: `writeHead` validates every field name and value, concatenates the head field by field
 * and decides the connection fields, on every response. For a hit whose head changes once a
 * second (Age), that is most of what separates the cache from a bare `node:http` server (paired
 * runs: 5–8 µs of a 25–30 µs hit). Here `writeHead` itself runs once, on a scratch response set
 * up like the real one (keep-alive or not, the server's keep-alive timeout and request limit), and
 * its text is reused: the bytes are Node's own, not a second serialiser that could drift from it.
 *
 * How: the text goes into the response's private `_header` (with `_last`, `_contentLength` and the
 * status as `_storeHeader` sets them), and `res.end(body)` then runs Node's ordinary path:
 * pipelining (a response queued behind another is buffered until its turn), back-pressure,
 * `finish`, closing after `Connection: close`, the keep-alive timer. Only the head's making is
 * skipped. A small body on a keep-alive connection goes out with its head in one Buffer
 * (AssembledResponses): one chunk for the socket and no head string to encode per hit (paired
 * runs: another ~5 µs at 1 KiB and 16 KiB). Whatever this module does not recognise (HTTP/2's
 * compatibility response, fields set on the response already, an `Expect`, the request limit
 * reached, a Node whose response lacks these fields) returns false, and the caller uses
 * `writeHead`.
 */

/** The private state of Node's ServerResponse (lib/_http_outgoing.js, _http_server.js) read or set here. */
interface NodeResponseState {
  _header: string | null;
  _headerSent: boolean;
  _last: boolean;
  _contentLength: number | null;
  _keepAliveTimeout: number;
  _maxRequestsPerSocket?: number;
  _expect_continue: boolean;
  shouldKeepAlive: boolean;
  maxRequestsOnConnectionReached: boolean;
  sendDate: boolean;
  statusMessage: string | undefined;
}

type Response = ServerResponse & NodeResponseState;

/** One serialisation: for keep-alive responses, or for those that close the connection. */
interface Serialised {
  text: string;
  statusMessage: string | undefined;
  last: boolean;
  contentLength: number | null;
  /** The server's settings it was made with (part of the Keep-Alive field). */
  keepAliveTimeout: number;
  maxRequestsPerSocket: number | undefined;
}

const SCRATCH_REQUEST = { method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage;

/** The symbol under which a response keeps fields set with setHeader(); undefined if Node has none. */
const OUT_HEADERS = Object.getOwnPropertySymbols(new ServerResponse(SCRATCH_REQUEST)).find(
  (symbol) => symbol.description === 'kOutHeaders',
);

/** Whether this Node's ServerResponse keeps the state this module relies on, checked once. */
const SUPPORTED = (() => {
  if (OUT_HEADERS === undefined) return false;
  const scratch = new ServerResponse(SCRATCH_REQUEST) as Response;
  const fresh = scratch._header === null && scratch._last === false && scratch._contentLength === null;
  scratch.writeHead(200, ['content-length', '1', 'date', 'x']);
  return (
    fresh &&
    scratch._header === 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ndate: x\r\nConnection: keep-alive\r\n\r\n' &&
    scratch._contentLength === 1 &&
    scratch._last === false
  );
})();

/** Bodies up to this size are sent assembled with their head. */
const ASSEMBLED_MAX_BODY = 64 * 1024;

/**
 * Heads and small bodies copied into one Buffer each, for the hot entries: the last head text
 * per body (Age changes it once a second), least recently used out beyond a byte budget, so the
 * copies never hold more than that however many bodies the memory tier holds.
 */
export class AssembledResponses {
  private readonly made: LRUCache<Buffer, { text: string; bytes: Buffer }>;

  constructor(budget: number) {
    this.made = new LRUCache({ maxSize: budget, sizeCalculation: (assembled) => assembled.bytes.length });
  }

  /** `text` (a serialised head) followed by `body`, made once per head and body. */
  of(text: string, body: Buffer): Buffer {
    let assembled = this.made.get(body);
    if (assembled?.text !== text) {
      // Not from Buffer's shared pool: a kept copy must not keep a pool slab alive.
      const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'latin1') + body.length);
      body.copy(bytes, bytes.write(text, 'latin1'));
      assembled = { text, bytes };
      this.made.set(body, assembled);
    }
    return assembled.bytes;
  }
}

/** A head (status and flat [name, value, …] fields) with its serialisations, made when first needed. */
export class WireHead {
  private keepAlive: Serialised | undefined;
  private close: Serialised | undefined;
  /**
   * Whether the fields carry a Date. If not, Node adds the current one: the text is then made
   * with the Date of the second it is for (`second`), where Node puts it (after the fields).
   */
  private readonly dated: boolean;
  private second = -1;

  constructor(
    readonly status: number,
    readonly fields: readonly string[],
  ) {
    this.dated = fields.some((value, i) => i % 2 === 0 && value.toLowerCase() === 'date');
  }

  /**
   * Sends this head and `body` (undefined: none, as for HEAD) on `res` without writeHead;
   * false, with nothing sent, when `res` is not a response it can do that for.
   */
  send(res: ServerResponse, body: Buffer | undefined, now: number, assembled: AssembledResponses): boolean {
    const state = res as Response;
    if (
      !SUPPORTED ||
      !(res instanceof ServerResponse) ||
      state._header !== null ||
      (state as unknown as Record<symbol, unknown>)[OUT_HEADERS as symbol] !== null ||
      state._expect_continue ||
      state.maxRequestsOnConnectionReached ||
      !state.sendDate ||
      state.statusMessage !== undefined
    ) {
      return false;
    }
    if (!this.dated) {
      const second = Math.floor(now / 1000);
      if (second !== this.second) {
        this.keepAlive = this.close = undefined;
        this.second = second;
      }
    }
    const keepAlive = state.shouldKeepAlive;
    let made = keepAlive ? this.keepAlive : this.close;
    if (
      made === undefined ||
      made.keepAliveTimeout !== state._keepAliveTimeout ||
      made.maxRequestsPerSocket !== state._maxRequestsPerSocket
    ) {
      made = this.serialise(keepAlive, state._keepAliveTimeout, state._maxRequestsPerSocket);
      // A field writeHead refuses: the caller's writeHead refuses it the same way.
      if (made === undefined) return false;
      if (keepAlive) this.keepAlive = made;
      else this.close = made;
    }
    // What writeHead → _storeHeader would have set on this response, in writeHead's order, so that
    // the response has the hidden class writeHead gives it (Node's own code then sees one, not two).
    state.statusMessage = made.statusMessage as string;
    state.statusCode = this.status;
    state._header = made.text;
    state._last = made.last;
    state._contentLength = made.contentLength;
    if (body !== undefined && !made.last && body.length <= ASSEMBLED_MAX_BODY) {
      // The head travels inside the body's chunk: _send must not put it in front again.
      state._headerSent = true;
      res.end(assembled.of(made.text, body));
    } else {
      res.end(body);
    }
    return true;
  }

  private serialise(
    keepAlive: boolean,
    keepAliveTimeout: number,
    maxRequestsPerSocket: number | undefined,
  ): Serialised | undefined {
    const scratch = new ServerResponse(SCRATCH_REQUEST) as Response;
    scratch.shouldKeepAlive = keepAlive;
    scratch._keepAliveTimeout = keepAliveTimeout;
    if (maxRequestsPerSocket !== undefined) scratch._maxRequestsPerSocket = maxRequestsPerSocket;
    const fields = this.dated ? this.fields : [...this.fields, 'Date', new Date(this.second * 1000).toUTCString()];
    try {
      scratch.writeHead(this.status, fields as string[]);
    } catch {
      return undefined;
    }
    return {
      text: scratch._header as string,
      statusMessage: scratch.statusMessage,
      last: scratch._last,
      contentLength: scratch._contentLength,
      keepAliveTimeout,
      maxRequestsPerSocket,
    };
  }
}
