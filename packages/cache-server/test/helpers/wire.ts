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
  const responses: WireResponse[] = [];
  let at = 0;
  let interim: number[] = [];
  while (at < bytes.length) {
    const method = methods[responses.length] ?? 'GET';
    const headEnd = bytes.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) {
      const partial = bytes.subarray(at).toString('latin1');
      const bad = checkPartialHead(partial);
      if (bad) return { responses, pending: interim, end: { kind: 'malformed', reason: bad } };
      return { responses, pending: interim, end: { kind: 'partial', received: bytes.length - at } };
    }
    const head = parseHead(bytes.subarray(at, headEnd).toString('latin1'));
    if ('reason' in head) return { responses, pending: interim, end: { kind: 'malformed', reason: head.reason } };
    at = headEnd + 4;
    const { version, status, fields } = head;
    if (status >= 100 && status < 200) {
      // RFC 9110 §15.2: interim responses have no body; 101 hands the connection over.
      interim.push(status);
      if (status === 101) {
        return {
          responses,
          pending: interim,
          end: { kind: 'malformed', reason: 'unrequested 101 Switching Protocols' },
        };
      }
      continue;
    }
    const framing = chooseFraming(method, status, fields);
    if (typeof framing === 'object')
      return { responses, pending: interim, end: { kind: 'malformed', reason: framing.reason } };
    const base = { version, status, fields, interim, trailers: [] as [string, string][] };
    interim = [];
    if (framing === 'none') {
      responses.push({ ...base, body: Buffer.alloc(0), framing });
      continue;
    }
    if (typeof framing === 'number') {
      if (bytes.length - at < framing) {
        return {
          responses,
          pending: interim,
          end: { kind: 'partial', status, received: bytes.length - at, expected: framing },
        };
      }
      responses.push({ ...base, body: bytes.subarray(at, at + framing), framing: 'length' });
      at += framing;
      continue;
    }
    if (framing === 'close') {
      if (!closed)
        return { responses, pending: interim, end: { kind: 'partial', status, received: bytes.length - at } };
      responses.push({ ...base, body: bytes.subarray(at), framing: 'close' });
      return { responses, pending: interim, end: { kind: 'clean' } };
    }
    const chunked = readChunked(bytes, at);
    if ('reason' in chunked) return { responses, pending: interim, end: { kind: 'malformed', reason: chunked.reason } };
    if ('received' in chunked)
      return { responses, pending: interim, end: { kind: 'partial', status, received: chunked.received } };
    responses.push({ ...base, body: chunked.body, framing: 'chunked', trailers: chunked.trailers });
    at = chunked.next;
  }
  if (interim.length > 0) return { responses, pending: interim, end: { kind: 'partial', received: 0 } };
  return { responses, pending: interim, end: { kind: 'clean' } };
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

function readChunked(
  bytes: Buffer,
  start: number,
): { body: Buffer; trailers: [string, string][]; next: number } | { received: number } | { reason: string } {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return { received: at - start };
    const line = bytes.subarray(at, lineEnd).toString('latin1');
    const match = /^([0-9A-Fa-f]{1,15})[ \t]*(;.*)?$/.exec(line);
    if (!match) return { reason: `bad chunk size line ${JSON.stringify(line.slice(0, 40))}` };
    const size = parseInt(match[1] as string, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (bytes.length < at + size + 2) return { received: at - start };
    parts.push(bytes.subarray(at, at + size));
    if (bytes.subarray(at + size, at + size + 2).toString('latin1') !== '\r\n') {
      return { reason: 'chunk data not followed by CRLF' };
    }
    at += size + 2;
  }
  // Trailer section, then the empty line.
  const trailers: [string, string][] = [];
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return { received: at - start };
    const line = bytes.subarray(at, lineEnd).toString('latin1');
    at = lineEnd + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return { reason: `bad trailer ${JSON.stringify(line)}` };
    trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  return { body: Buffer.concat(parts), trailers, next: at };
}
