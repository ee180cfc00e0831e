import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import pino from 'pino';
import type { Logger } from 'pino';
import type { AccessLogFormat, XCache } from '@simple-cache/common';
import { targetAsSent } from './limits/limits.js';
import { REDACTED, requestIdOf } from './logger.js';
import type { Outcome, OutcomeObserver } from './proxy/outcome.js';

/**
 * The access log: one line per request, written from the exchange's Outcome (proxy/outcome.ts),
 * fast-path hits included, in one of two formats:
 * - `json`: pino-shaped (`level`, `time`, `msg`, `reqId`), so the tools that read the rest of the
 *   log read these lines too;
 * - `combined`: nginx's `combined` format followed by the cache's own fields, for log tooling
 *   that already parses nginx (GoAccess, fail2ban, awstats…).
 *
 * Lines are batched and written through pino's own destination (sonic-boom, asynchronous): a
 * hit costs its line's encoding into a buffer, a write(2) carries a hundred lines, and a timer
 * hands over what is left each second. SIGHUP reopens the file (logrotate's habit); closing flushes.
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
>;

export interface AccessLog {
  /** One line for a finished exchange. */
  onOutcome(record: AccessRecord, req: IncomingMessage): void;
  /** Reopens the file (after logrotate moved it); nothing for stdout. */
  reopen(): void;
  /** Writes what is buffered, synchronously, and closes (shutdown). */
  close(): void;
}

export interface AccessLogOptions {
  format: Exclude<AccessLogFormat, 'off'>;
  /** '' = stdout. */
  file: string;
  /** Log query strings as sent (else `?[Redacted]`: they may carry tokens). */
  query: boolean;
  /** For the one warning when lines are dropped (a destination slower than the traffic). */
  logger: Logger;
  /** Replaced wherever it appears (a query written with `query`), as in every other log line. */
  adminToken?: string;
}

/** Lines are written in batches of up to this many bytes (nginx: `buffer=32k`). */
const BATCH = 32 * 1024;
/**
 * On a pipe (`docker logs`, systemd) the access log and pino's other lines share fd 1: a write of
 * at most PIPE_BUF bytes is atomic (POSIX), so a batch never splits a line of the other writer.
 */
const PIPE_BUF = 4096;
/** What is batched is written at least this often (nginx: `flush=1s`). */
const FLUSH_INTERVAL_MS = 1_000;
/** A destination that cannot keep up loses lines past this much, rather than the process memory. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/** UTF-8 bytes a JavaScript character can take at most (a lone surrogate: 3). */
const MAX_BYTES_PER_CHAR = 3;

export function createAccessLog(options: AccessLogOptions): AccessLog {
  const toStdout = options.file === '';
  if (!toStdout) checkWritable(options.file);
  const size = toStdout && isPipe(1) ? PIPE_BUF : BATCH;
  const destination = pino.destination({
    ...(toStdout ? { dest: 1 } : { dest: options.file, mkdir: true, append: true }),
    sync: false,
    contentMode: 'buffer',
    maxWrite: size,
    maxLength: MAX_BUFFERED,
  });
  let warned = false;
  destination.on('drop', () => {
    if (warned) return;
    warned = true;
    options.logger.warn(
      { file: options.file || 'stdout' },
      'the access log destination is slower than the traffic: lines dropped',
    );
  });
  destination.on('error', (error: unknown) => options.logger.error({ err: error }, 'cannot write the access log'));
  const format = options.format === 'json' ? jsonLine : combinedLine;
  const pathOf = options.query ? (target: string) => target : redactQuery;
  const token = options.adminToken ?? '';
  // Each line is encoded into the batch at once and becomes garbage young: a batch held as a
  // string would keep a tree of a few thousand small strings alive across collections. A full
  // batch is handed to sonic-boom whole (it keeps the Buffer until written) and a new one begun.
  let batch = Buffer.allocUnsafe(size);
  let used = 0;
  let closed = false;
  // In contentMode 'buffer' sonic-boom writes Buffers; its types know only strings.
  const write = (bytes: Buffer) => destination.write(bytes as unknown as string);
  const handOver = () => {
    if (used === 0) return;
    write(batch.subarray(0, used));
    batch = Buffer.allocUnsafe(size);
    used = 0;
  };
  const timer = setInterval(handOver, FLUSH_INTERVAL_MS);
  timer.unref();

  return {
    onOutcome(record, req) {
      if (closed) return;
      let line = format(record, req, pathOf(record.target));
      if (token !== '' && line.includes(token)) line = line.split(token).join(REDACTED);
      if (used + line.length * MAX_BYTES_PER_CHAR > size) {
        handOver();
        // Longer than a batch (a huge user agent): written on its own.
        if (line.length * MAX_BYTES_PER_CHAR > size) return void write(Buffer.from(line));
      }
      used += batch.write(line, used);
    },
    reopen() {
      if (toStdout || closed) return;
      handOver();
      destination.reopen();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      handOver();
      try {
        destination.flushSync();
      } catch {
        // nothing buffered, or the destination is gone: nothing more can be done
      }
      // stdout stays open for the rest of the process's lines.
      if (!toStdout) destination.end();
    },
  };
}

/** The proxy's observer, and the access log beside it when there is one. */
export function withAccessLog(observer: OutcomeObserver, accessLog: AccessLog | undefined): OutcomeObserver {
  if (accessLog === undefined) return observer;
  return {
    onOutcome(outcome, req) {
      observer.onOutcome(outcome, req);
      accessLog.onOutcome(outcome, req);
    },
  };
}

/**
 * Fastify's per-request lines (`incoming request`, `request completed`: two lines, the second
 * without method, URL or cache outcome) give way to the access line. The proxy's exchanges are
 * logged from their Outcome (`answeredByProxy`); what Fastify answered itself (admin endpoints,
 * PURGE, the limits' refusals) is logged here, from the reply, which has no Outcome: its status,
 * length and catalogue code are read from the head it sent.
 */
export function accessLogController(
  accessLog: AccessLog | undefined,
  answeredByProxy: (req: IncomingMessage) => boolean,
): LogController {
  return new (class extends LogController {
    override incomingRequest(): void {}

    override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
      if (error) reply.log.error({ err: error, status: reply.statusCode }, 'request errored');
      if (accessLog === undefined || answeredByProxy(request.raw)) return;
      accessLog.onOutcome(recordOfReply(request, reply), request.raw);
    }
  })();
}

function recordOfReply(request: FastifyRequest, reply: FastifyReply): AccessRecord {
  const { method = '' } = request.raw;
  const length = Number(reply.getHeader('content-length'));
  const xCache = reply.getHeader('x-cache');
  const errorCode = reply.getHeader('x-cache-error');
  return {
    method,
    target: targetAsSent(request.raw),
    status: reply.statusCode,
    bytes: method === 'HEAD' || !Number.isSafeInteger(length) ? 0 : length,
    xCache: typeof xCache === 'string' ? (xCache as XCache) : '',
    cacheStatus: {},
    rule: '',
    errorCode: typeof errorCode === 'string' ? errorCode : '',
    startedAt: Math.round(Date.now() - reply.elapsedTime),
    durationMs: reply.elapsedTime,
    originMs: undefined,
    aborted: false,
  };
}

/** The target without its query, which may carry tokens (`?token=…`, `?sig=…`). */
export function redactQuery(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : `${target.slice(0, query)}?${REDACTED}`;
}

/** `{"level":30,"time":…,"msg":"request",…}`: numbers and catalogue words as they are, the rest JSON-escaped. */
export function jsonLine(record: AccessRecord, req: IncomingMessage, path: string): string {
  const { cacheStatus, originMs } = record;
  let line =
    `{"level":30,"time":${epochMs(record.startedAt)},"msg":"request","reqId":"${requestIdOf(req)}",` +
    // An address is digits, hex, dots and colons: nothing to escape.
    `"client":"${req.socket.remoteAddress ?? ''}","method":"${record.method}",` +
    `"path":${JSON.stringify(path)},"status":${record.status},"bytes":${record.bytes},"cache":"${record.xCache}"`;
  if (cacheStatus.fwd !== undefined) line += `,"fwd":"${cacheStatus.fwd}"`;
  if (record.rule !== '') line += `,"rule":${JSON.stringify(record.rule)}`;
  line += `,"ms":${roundMs(record.durationMs)}`;
  if (originMs !== undefined) line += `,"originMs":${roundMs(originMs)}`;
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
  const request = `${record.method} ${path} HTTP/${req.httpVersion}`;
  return (
    `${req.socket.remoteAddress ?? '-'} - - [${timeLocal(record.startedAt)}] "${escapeQuoted(request)}" ` +
    `${status} ${record.bytes} "${quotedField(headers.referer)}" "${quotedField(headers['user-agent'])}" ` +
    `${record.xCache || '-'} ${record.cacheStatus.fwd ?? '-'} ${record.rule || '-'} ` +
    `${seconds(record.durationMs)} ${record.originMs === undefined ? '-' : seconds(record.originMs)} ${requestIdOf(req)}\n`
  );
}

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

function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** nginx's `$request_time`: seconds with millisecond resolution. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function quotedField(value: string | undefined): string {
  return value === undefined || value === '' ? '-' : escapeQuoted(value);
}

// What nginx escapes in a quoted field: `"`, `\`, and bytes outside printable ASCII, as \xHH.
// eslint-disable-next-line no-control-regex -- control characters are what must be escaped
const UNSAFE = /["\\\x00-\x1f\x7f-\uffff]/;
// eslint-disable-next-line no-control-regex -- the same set
const UNSAFE_ALL = /["\\\x00-\x1f\x7f-\uffff]/g;

function escapeQuoted(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_ALL, (char) => {
    const code = char.charCodeAt(0);
    return code > 0xff ? '?' : `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let stampSecond = -1;
let stamp = '';

/** `06/Dec/2026:12:34:56 +0000`, made once per second (UTC, so lines sort and compare as written). */
function timeLocal(ms: number): string {
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

/** A file the cache cannot write fails start-up, as nginx does, rather than losing every line later. */
function checkWritable(file: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    closeSync(openSync(file, 'a'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new Error(`cannot open --access-log-file ${file} for writing (${code})`, { cause: error });
  }
}

function isPipe(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return true;
  }
}
