import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import pino from 'pino';
import type { Logger } from 'pino';
import type { AccessLogFormat, XCache } from '@simple-cache/common';
import { fastCombinedWriter, fastJsonWriter, NO_ROOM } from './access-fast-line.js';
import { combinedLine, jsonLine, redactQuery, type AccessRecord } from './access-line.js';
import { targetAsSent } from './limits/limits.js';
import { REDACTED } from './logger.js';
import type { OutcomeObserver } from './proxy/outcome.js';

/**
 * The access log: one line per request, written from the exchange's Outcome (proxy/outcome.ts),
 * fast-path hits included, in one of two formats (access-line.ts):
 * - `json`: pino-shaped (`level`, `time`, `msg`, `reqId`), so the tools that read the rest of the
 *   log read these lines too;
 * - `combined`: nginx's `combined` format followed by the cache's own fields, for log tooling
 *   that already parses nginx (GoAccess, fail2ban, awstats…).
 *
 * As nginx's `access_log … buffer=32k flush=1s`: each line is encoded into one buffer, reused for
 * the life of the process, and the buffer goes to the file in one write(2) when it is full, each
 * second, on SIGHUP (before the file is reopened) and when the process exits. The write is
 * synchronous, as nginx's is: 32 KiB into the page cache costs ~10 µs of CPU, where handing it to
 * libuv's thread pool costs three times that and a new buffer per batch (issue 17's budget).
 * stdout (a pipe, a terminal) is written asynchronously instead: its reader may be slow, and a
 * slow reader must cost lines, never the proxy's time.
 */

export interface AccessLog {
  /** One line for a finished exchange. */
  onOutcome(record: AccessRecord, req: IncomingMessage): void;
  /** Writes what is batched and reopens the file (after logrotate moved it); for stdout only the former. */
  reopen(): void;
  /** Writes what is batched, synchronously, and closes (shutdown). */
  close(): void;
}

export interface AccessLogOptions {
  format: Exclude<AccessLogFormat, 'off'>;
  /** '' = stdout. */
  file: string;
  /** Log query strings as sent (else `?[Redacted]`: they may carry tokens). */
  query: boolean;
  /** For the one line when lines are dropped or cannot be written. */
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
/** A stdout that cannot keep up loses lines past this much, rather than the process memory. */
const MAX_BUFFERED = 16 * 1024 * 1024;
/**
 * Characters of lines gathered before they are encoded into the batch: a line encoded on its own
 * costs a flattening of its string and a call into the encoder (~130 ns); ten at a time, half.
 */
const ENCODE_AT = 2048;
/** UTF-8 bytes a JavaScript character can take at most (a lone surrogate: 3). */
const MAX_BYTES_PER_CHAR = 3;

/** Where batches go. It has written or copied the bytes when write() returns: the batch is reused at once. */
interface Sink {
  write(bytes: Buffer, length: number): void;
  reopen(): void;
  close(): void;
}

export function createAccessLog(options: AccessLogOptions): AccessLog {
  const toStdout = options.file === '';
  if (!toStdout) checkWritable(options.file);
  const size = toStdout && isPipe(1) ? PIPE_BUF : BATCH;
  const sink = toStdout ? stdoutSink(options.logger) : fileSink(options.file, options.logger);
  const format = options.format === 'json' ? jsonLine : combinedLine;
  const pathOf = options.query ? (target: string) => target : redactQuery;
  const writeFast = options.format === 'json' ? fastJsonWriter(pathOf) : fastCombinedWriter(pathOf);
  const token = options.adminToken ?? '';
  const tokenBytes = Buffer.from(token);
  const batch = Buffer.allocUnsafe(size);
  let used = 0;
  // Lines not yet encoded: encoded a few at a time, one call into the encoder instead of one per line.
  let pending = '';
  let closed = false;
  const encode = () => {
    used += batch.write(pending, used);
    pending = '';
  };
  const flush = () => {
    if (pending !== '') encode();
    if (used === 0) return;
    const length = used;
    used = 0;
    sink.write(batch, length);
  };
  const timer = setInterval(flush, FLUSH_INTERVAL_MS);
  timer.unref();
  // An exit that skips the shutdown (process.exit after a fatal error) still writes what is batched.
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    process.off('exit', close);
    flush();
    sink.close();
  };
  process.on('exit', close);
  /** A fast hit's line, written as bytes (access-fast-line.ts); false when the general formatter is to write it. */
  const wroteFast = (record: AccessRecord, req: IncomingMessage): boolean => {
    // Lines keep their order: what the general formatter left pending goes first.
    if (pending !== '') encode();
    let end = writeFast(record, req, batch, used);
    if (end === NO_ROOM && used > 0) {
      flush();
      end = writeFast(record, req, batch, 0);
    }
    if (end < 0) return false;
    // A line naming the admin token (a query logged as sent) is left to the general formatter, which redacts it.
    if (token !== '' && batch.subarray(used, end).includes(tokenBytes)) return false;
    used = end;
    return true;
  };

  return {
    onOutcome(record, req) {
      if (closed) return;
      if (record.route === 'fast-hit' && wroteFast(record, req)) return;
      let line = format(record, req, pathOf(record.target));
      if (token !== '' && line.includes(token)) line = line.split(token).join(REDACTED);
      if (used + (pending.length + line.length) * MAX_BYTES_PER_CHAR > size) {
        flush();
        // Longer than a batch (a huge user agent): written on its own.
        if (line.length * MAX_BYTES_PER_CHAR > size) {
          const bytes = Buffer.from(line);
          return sink.write(bytes, bytes.length);
        }
      }
      pending += line;
      if (pending.length >= ENCODE_AT) encode();
    },
    reopen() {
      if (closed) return;
      flush();
      sink.reopen();
    },
    close,
  };
}

/** The file, appended to with one synchronous write(2) per batch (O_APPEND: workers' batches never interleave). */
function fileSink(file: string, logger: Logger): Sink {
  let fd = openSync(file, 'a');
  let failing = false;
  return {
    write(bytes, length) {
      try {
        for (let offset = 0; offset < length;) offset += writeSync(fd, bytes, offset, length - offset);
        failing = false;
      } catch (error) {
        // A full or failing disk: the batch is lost; said once until a write succeeds again.
        if (!failing) logger.error({ err: error, file }, 'cannot write the access log: lines lost');
        failing = true;
      }
    },
    reopen() {
      try {
        mkdirSync(dirname(file), { recursive: true });
        const reopened = openSync(file, 'a');
        closeSync(fd);
        fd = reopened;
      } catch (error) {
        logger.error({ err: error, file }, 'cannot reopen the access log: writing on to the file it had open');
      }
    },
    close() {
      closeSync(fd);
    },
  };
}

/** stdout through pino's own destination (sonic-boom), asynchronous: a slow reader costs lines past 16 MiB. */
function stdoutSink(logger: Logger): Sink {
  const destination = pino.destination({
    dest: 1,
    sync: false,
    contentMode: 'buffer',
    maxWrite: PIPE_BUF,
    maxLength: MAX_BUFFERED,
  });
  let warned = false;
  destination.on('drop', () => {
    if (warned) return;
    warned = true;
    logger.warn({ file: 'stdout' }, 'the access log destination is slower than the traffic: lines dropped');
  });
  destination.on('error', (error: unknown) => logger.error({ err: error }, 'cannot write the access log'));
  return {
    // sonic-boom keeps what it is given until written: a copy. Its types know only strings.
    write: (bytes, length) => void destination.write(Buffer.from(bytes.subarray(0, length)) as unknown as string),
    reopen() {},
    close() {
      try {
        destination.flushSync();
      } catch {
        // nothing buffered, or stdout is gone: nothing more can be done
      }
      // stdout stays open for the rest of the process's lines.
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
