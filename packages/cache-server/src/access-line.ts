import type { IncomingMessage } from 'node:http';
import { clientAddressOf } from './client-address.js';
import { REDACTED, requestIdOf } from './logger.js';
import type { Outcome, RouteName } from './proxy/outcome.js';

/**
 * The access log's two line formats (access-log.ts writes them). A line is built once per
 * request, on the fast path too, so each field is written by hand for what it can hold: numbers
 * and catalogue words as they are, strings escaped only when they need it (a test before the
 * escaping, which almost no path needs), durations with integer arithmetic (printing a double
 * costs more than the rest of the line), the time prefix made once per millisecond or second.
 */

/** What a line is made of: an Outcome's fields, or the same read from a reply Fastify answered. */
export type AccessRecord = Pick<
  Outcome,
  | 'method'
  | 'target'
  | 'status'
  | 'bytes'
  | 'xCache'
  | 'cacheStatus'
  | 'rule'
  | 'errorCode'
  | 'startedAt'
  | 'durationMs'
  | 'originMs'
  | 'aborted'
> & {
  /** The route that answered; none for a reply Fastify answered itself. A fast hit's line is written as bytes (access-fast-line.ts). */
  route?: RouteName;
};

/** The target without its query, which may carry tokens (`?token=…`, `?sig=…`). */
export function redactQuery(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : `${target.slice(0, query)}?${REDACTED}`;
}

/** `{"level":30,"time":…,"msg":"request",…}`: pino-shaped, so the tools that read the rest of the log read it too. */
export function jsonLine(record: AccessRecord, req: IncomingMessage, path: string): string {
  const { cacheStatus, originMs } = record;
  let line =
    `{"level":30,"time":${epochMs(record.startedAt)},"msg":"request","reqId":"${requestIdOf(req)}",` +
    // An address is digits, hex, dots and colons: nothing to escape.
    `"client":"${clientAddressOf(req) ?? ''}","method":${jsonString(record.method)},` +
    `"path":${jsonString(path)},"status":${record.status},"bytes":${record.bytes},"cache":"${record.xCache}"`;
  if (cacheStatus.fwd !== undefined) line += `,"fwd":"${cacheStatus.fwd}"`;
  if (record.rule !== '') line += `,"rule":${jsonString(record.rule)}`;
  line += `,"ms":${thousandths(record.durationMs * 1000)}`;
  if (originMs !== undefined) line += `,"originMs":${thousandths(originMs * 1000)}`;
  if (record.errorCode !== '') line += `,"error":"${record.errorCode}"`;
  if (record.aborted) line += `,"aborted":true`;
  return `${line}}\n`;
}

/**
 * nginx's `combined` (`$remote_addr - $remote_user [$time_local] "$request" $status
 * $body_bytes_sent "$http_referer" "$http_user_agent"`), then the cache's fields: X-Cache,
 * Cache-Status `fwd`, rule, request time and origin time in seconds (`$request_time`,
 * `$upstream_response_time`), request id; `-` for none. A response never started (the client
 * left first) is nginx's 499.
 */
export function combinedLine(record: AccessRecord, req: IncomingMessage, path: string): string {
  const { headers } = req;
  const status = record.status === 0 ? 499 : record.status;
  const { originMs } = record;
  return (
    `${clientAddressOf(req) ?? '-'} - - [${timeLocal(record.startedAt)}] ` +
    `"${escapeWord(record.method)} ${escapeWord(path)} HTTP/${req.httpVersion}" ` +
    `${status} ${record.bytes} "${quotedField(headers.referer)}" "${quotedField(headers['user-agent'])}" ` +
    `${record.xCache || '-'} ${record.cacheStatus.fwd ?? '-'} ${record.rule === '' ? '-' : escapeWord(record.rule)} ` +
    `${thousandths(record.durationMs)} ${originMs === undefined ? '-' : thousandths(originMs)} ${requestIdOf(req)}\n`
  );
}

// What JSON must escape (RFC 8259 §7: `"`, `\`, control characters), and lone surrogates, which
// UTF-8 cannot carry (JSON.stringify writes them as \uXXXX, so they survive the round trip).
// eslint-disable-next-line no-control-regex -- control characters are what must be escaped
const JSON_UNSAFE = /["\\\x00-\x1f\ud800-\udfff]/;

/** A JSON string literal: as it is when nothing in it needs escaping (nearly always), else JSON.stringify's. */
export function jsonString(text: string): string {
  return JSON_UNSAFE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** `units ÷ 1000` with three decimals (`12.345`), from integers: a double printed costs ~100 ns. */
export function thousandths(units: number): string {
  const rounded = Math.round(units);
  if (rounded >= 0 && rounded < 2 ** 31) return `${(rounded / 1000) | 0}.${FRACTIONS[rounded % 1000]}`;
  // Past 2³¹ (35 minutes in µs): rare enough to print the slow way; never NaN or negative.
  return Number.isFinite(rounded) && rounded > 0 ? (rounded / 1000).toFixed(3) : '0.000';
}

const FRACTIONS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

let lastMs = -1;
let lastMsText = '';

/** A 13-digit integer is a heap number, slow to print; tens of requests share each millisecond. */
function epochMs(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms;
    lastMsText = String(ms);
  }
  return lastMsText;
}

export function quotedField(value: string | undefined): string {
  return value === undefined || value === '' ? '-' : escapeQuoted(value);
}

// What nginx escapes in a quoted field: `"`, `\`, and bytes outside printable ASCII, as \xHH.
// eslint-disable-next-line no-control-regex -- control characters are what must be escaped
const UNSAFE = /["\\\x00-\x1f\x7f-\uffff]/;
// eslint-disable-next-line no-control-regex -- the same set
const UNSAFE_ALL = /["\\\x00-\x1f\x7f-\uffff]/g;

/**
 * nginx's escaping (`\xHH` per byte). HTTP/1.1 fields arrive as one character per byte
 * (latin1), so each character is its byte; a character past 0xff (an HTTP/2 field) is `?`.
 */
export function escapeQuoted(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_ALL, (char) => {
    const code = char.charCodeAt(0);
    return code > 0xff ? '?' : `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
}

/** A field read up to a space (the method, the path, the rule's name) stays one field: its spaces are escaped too. */
export function escapeWord(text: string): string {
  const escaped = escapeQuoted(text);
  return escaped.includes(' ') ? escaped.replaceAll(' ', '\\x20') : escaped;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let stampSecond = -1;
let stamp = '';

/** `06/Dec/2026:12:34:56 +0000`, made once per second (UTC, so lines sort and compare as written). */
export function timeLocal(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== stampSecond) {
    const d = new Date(second * 1000);
    const two = (n: number) => String(n).padStart(2, '0');
    stamp =
      `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
      `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
    stampSecond = second;
  }
  return stamp;
}
