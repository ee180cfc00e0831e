/**
 * An HTTP/1.1 response reader written from RFC 9112 alone, for tests that must not share the
 * cache's (or Node's) assumptions about framing: it takes the raw bytes a server sent on one
 * connection and the methods of the requests written on it, and says exactly what a strict
 * client would make of them.
 */

export interface WireResponse {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  status: number;
  /** Field lines in order, names as sent. */
  fields: [string, string][];
  body: Buffer;
  /** How the end of the body was found (RFC 9112 §6.3). */
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** Statuses of the 1xx responses that came before this one. */
  interim: number[];
  /** Trailer fields of a chunked body. */
  trailers: [string, string][];
}

/** What the bytes add up to after the last complete response. */
export type WireEnd =
  /** Nothing after the last complete response. */
  | { kind: 'clean' }
  /** A response started (head or body) but the bytes stop short of its end. */
  | { kind: 'partial'; status?: number; received: number; expected?: number }
  /** Bytes that are not a valid response, with the reason. */
  | { kind: 'malformed'; reason: string };

export interface WireReading {
  responses: WireResponse[];
  end: WireEnd;
  /** 1xx statuses read after the last complete response (e.g. a `100 Continue` awaiting its body). */
  pending: number[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values: visible characters, space and tab, obs-text (RFC 9110 §5.5); no CR, LF, NUL. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE = /^HTTP\/(1\.[01]) (\d{3}) [\t\x20-\x7e\x80-\xff]*$/;

/** The one value of field `name` (case-insensitive), several lines joined with ", "; undefined when absent. */
export function field(fields: [string, string][], name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = fields.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(', ');
}

/**
 * Reads the responses in `bytes`, the whole of what a server sent on one connection, the request
 * methods in the order they were written. `closed` says whether the server closed the connection
 * (which ends a close-delimited body); when false, an unfinished response is `partial`.
 */
export function readResponses(bytes: Buffer, methods: readonly string[], closed: boolean): WireReading {
  const reader = new WireReader(methods).push(bytes);
  return (closed ? reader.close() : reader).reading();
}

/** Where the reader is within the message that starts at `at` (WireReader). */
type Phase =
  /** Looking for the end of a head; `scanFrom`: where the search for CRLF CRLF resumes. */
  | { kind: 'head'; scanFrom: number }
  | { kind: 'length'; base: ResponseStart; start: number; size: number }
  | { kind: 'close'; base: ResponseStart; start: number }
  /** `pos`: the next size line, chunk data (`size` known) or trailer line. */
  | {
      kind: 'chunked';
      base: ResponseStart;
      start: number;
      pos: number;
      step: 'size' | 'data' | 'trailers';
      size: number;
      parts: Buffer[];
      trailers: [string, string][];
    }
  /** A close-delimited body ended the connection's responses. */
  | { kind: 'done' };

type ResponseStart = Omit<WireResponse, 'body' | 'framing'>;

/**
 * The same reading, fed as the bytes arrive: each byte is looked at once (plus the last three
 * of a head again, for a CRLF CRLF split across pushes), so reading a response of n bytes that
 * arrives in k pieces costs O(n), where reading everything again on each piece cost O(n·k)
 * (a 2.5 MB body in 64 KiB reads: 40 passes over up to 2.5 MB). `reading()` says what the
 * bytes so far add up to; `close()` says the server closed the connection.
 */
export class WireReader {
  private readonly responses: WireResponse[] = [];
  private interim: number[] = [];
  private buffer = Buffer.alloc(0);
  private length = 0;
  /** Where the first message not yet complete starts. */
  private at = 0;
  private phase: Phase = { kind: 'head', scanFrom: 0 };
  private malformed: string | undefined;
  private closed = false;

  constructor(private readonly methods: readonly string[]) {}

  push(chunk: Buffer): this {
    if (this.length + chunk.length > this.buffer.length) {
      // Doubling: appending n bytes copies O(n) in all. Responses already read keep views of the
      // old buffer, which stays as it was.
      const grown = Buffer.alloc(Math.max(2 * this.buffer.length, this.length + chunk.length, 4096));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
    this.advance();
    return this;
  }

  /** The server closed the connection: that ends a close-delimited body. */
  close(): this {
    this.closed = true;
    this.advance();
    return this;
  }

  reading(): WireReading {
    return { responses: [...this.responses], pending: [...this.interim], end: this.end() };
  }

  private get bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private advance(): void {
    while (this.malformed === undefined && this.step()) {
      // Each step completes a head, a body, a chunk or a trailer line.
    }
  }

  private fail(reason: string): false {
    this.malformed = reason;
    return false;
  }

  private step(): boolean {
    const phase = this.phase;
    switch (phase.kind) {
      case 'head':
        return this.readHead(phase);
      case 'length':
        if (this.length - phase.start < phase.size) return false;
        return this.complete(phase.base, this.bytes.subarray(phase.start, phase.start + phase.size), 'length');
      case 'close':
        if (!this.closed) return false;
        this.complete(phase.base, this.bytes.subarray(phase.start), 'close');
        // Everything after the head was its body.
        this.phase = { kind: 'done' };
        return false;
      case 'chunked':
        return this.readChunked(phase);
      case 'done':
        return false;
    }
  }

  private readHead(phase: Extract<Phase, { kind: 'head' }>): boolean {
    if (this.at >= this.length) return false;
    const headEnd = this.bytes.indexOf('\r\n\r\n', Math.max(this.at, phase.scanFrom), 'latin1');
    if (headEnd < 0) {
      phase.scanFrom = Math.max(this.at, this.length - 3);
      return false;
    }
    const head = parseHead(this.bytes.subarray(this.at, headEnd).toString('latin1'));
    if ('reason' in head) return this.fail(head.reason);
    this.at = headEnd + 4;
    this.phase = { kind: 'head', scanFrom: this.at };
    const { version, status, fields } = head;
    if (status >= 100 && status < 200) {
      // RFC 9110 §15.2: interim responses have no body; 101 hands the connection over.
      this.interim.push(status);
      return status === 101 ? this.fail('unrequested 101 Switching Protocols') : true;
    }
    const framing = chooseFraming(this.methods[this.responses.length] ?? 'GET', status, fields);
    if (typeof framing === 'object') return this.fail(framing.reason);
    const base: ResponseStart = { version, status, fields, interim: this.interim, trailers: [] };
    this.interim = [];
    const start = this.at;
    if (framing === 'none') return this.complete(base, Buffer.alloc(0), 'none');
    if (typeof framing === 'number') this.phase = { kind: 'length', base, start, size: framing };
    else if (framing === 'close') this.phase = { kind: 'close', base, start };
    else this.phase = { kind: 'chunked', base, start, pos: start, step: 'size', size: 0, parts: [], trailers: [] };
    return true;
  }

  private readChunked(phase: Extract<Phase, { kind: 'chunked' }>): boolean {
    const bytes = this.bytes;
    if (phase.step === 'data') {
      if (this.length < phase.pos + phase.size + 2) return false;
      phase.parts.push(bytes.subarray(phase.pos, phase.pos + phase.size));
      if (bytes.subarray(phase.pos + phase.size, phase.pos + phase.size + 2).toString('latin1') !== '\r\n') {
        return this.fail('chunk data not followed by CRLF');
      }
      phase.pos += phase.size + 2;
      phase.step = 'size';
      return true;
    }
    const lineEnd = bytes.indexOf('\r\n', phase.pos, 'latin1');
    if (lineEnd < 0) return false;
    const line = bytes.subarray(phase.pos, lineEnd).toString('latin1');
    phase.pos = lineEnd + 2;
    if (phase.step === 'size') {
      const match = /^([0-9A-Fa-f]{1,15})[ \t]*(;.*)?$/.exec(line);
      if (!match) return this.fail(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
      phase.size = parseInt(match[1] as string, 16);
      phase.step = phase.size === 0 ? 'trailers' : 'data';
      return true;
    }
    // The trailer section, then the empty line.
    if (line === '') {
      return this.complete({ ...phase.base, trailers: phase.trailers }, Buffer.concat(phase.parts), 'chunked');
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return this.fail(`bad trailer ${JSON.stringify(line)}`);
    phase.trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
    return true;
  }

  /** A final response read to its end: the next message starts after it. */
  private complete(base: ResponseStart, body: Buffer, framing: WireResponse['framing']): true {
    this.responses.push({ ...base, body, framing });
    this.at = this.phase.kind === 'chunked' ? this.phase.pos : this.at + body.length;
    this.phase = { kind: 'head', scanFrom: this.at };
    return true;
  }

  private end(): WireEnd {
    if (this.malformed !== undefined) return { kind: 'malformed', reason: this.malformed };
    const phase = this.phase;
    switch (phase.kind) {
      case 'head': {
        if (this.at < this.length) {
          const bad = checkPartialHead(this.firstLine());
          if (bad) return { kind: 'malformed', reason: bad };
          return { kind: 'partial', received: this.length - this.at };
        }
        return this.interim.length > 0 ? { kind: 'partial', received: 0 } : { kind: 'clean' };
      }
      case 'length':
        return {
          kind: 'partial',
          status: phase.base.status,
          received: this.length - phase.start,
          expected: phase.size,
        };
      case 'close':
        return { kind: 'partial', status: phase.base.status, received: this.length - phase.start };
      case 'chunked':
        return { kind: 'partial', status: phase.base.status, received: phase.pos - phase.start };
      case 'done':
        return { kind: 'clean' };
    }
  }

  /** What checkPartialHead looks at of an unfinished head: its first line with its CRLF, or its first 7 bytes. */
  private firstLine(): string {
    const lineEnd = this.bytes.indexOf('\r\n', this.at, 'latin1');
    const end = lineEnd < 0 ? Math.min(this.length, this.at + 7) : lineEnd + 2;
    return this.bytes.subarray(this.at, end).toString('latin1');
  }
}

/** A head not finished yet may still be judged by its first line. */
function checkPartialHead(partial: string): string | undefined {
  const lineEnd = partial.indexOf('\r\n');
  if (lineEnd < 0) return 'HTTP/1.'.startsWith(partial.slice(0, 7)) ? undefined : 'not an HTTP/1 response';
  return STATUS_LINE.test(partial.slice(0, lineEnd))
    ? undefined
    : `bad status line ${JSON.stringify(partial.slice(0, lineEnd))}`;
}

function parseHead(text: string): { version: string; status: number; fields: [string, string][] } | { reason: string } {
  const lines = text.split('\r\n');
  const statusLine = lines.shift() as string;
  const match = STATUS_LINE.exec(statusLine);
  if (!match) return { reason: `bad status line ${JSON.stringify(statusLine.slice(0, 80))}` };
  const fields: [string, string][] = [];
  for (const line of lines) {
    if (line.includes('\n') || line.includes('\r')) return { reason: `bare CR or LF in ${JSON.stringify(line)}` };
    if (line.startsWith(' ') || line.startsWith('\t')) return { reason: 'obs-fold in a response (RFC 9112 §5.2)' };
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon);
    if (!TOKEN.test(name)) return { reason: `bad field line ${JSON.stringify(line.slice(0, 80))}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return { reason: `bad field value in ${JSON.stringify(line.slice(0, 80))}` };
    fields.push([name, value]);
  }
  return { version: `HTTP/${match[1]}`, status: Number(match[2]), fields };
}

/** RFC 9112 §6.3, in its order; anything a careful client could read two ways is malformed. */
function chooseFraming(
  method: string,
  status: number,
  fields: [string, string][],
): 'none' | 'chunked' | 'close' | number | { reason: string } {
  const te = field(fields, 'transfer-encoding');
  const lengths = fields.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v);
  if (te !== undefined && lengths.length > 0) return { reason: 'both Transfer-Encoding and Content-Length' };
  const distinct = new Set(lengths.flatMap((v) => v.split(',').map((s) => s.trim())));
  if (distinct.size > 1) return { reason: `conflicting Content-Length ${JSON.stringify(lengths)}` };
  const [length] = distinct;
  if (length !== undefined && !/^\d{1,15}$/.test(length)) return { reason: `invalid Content-Length ${length}` };
  if (method === 'HEAD' || status === 204 || status === 304) {
    if (status === 204 && (te !== undefined || (length !== undefined && length !== '0'))) {
      return { reason: 'a 204 with a body framing' };
    }
    return 'none';
  }
  if (te !== undefined) {
    const codings = te.split(',').map((s) => s.trim().toLowerCase());
    return codings.at(-1) === 'chunked' ? 'chunked' : 'close';
  }
  if (length !== undefined) return Number(length);
  return 'close';
}
