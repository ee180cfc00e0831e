import type { IncomingMessage } from 'node:http';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** What replaces a secret in a log line. */
export const REDACTED = '[Redacted]';

/** The fields that carry credentials, in any headers object a log line might hold. */
const SECRET_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];

/**
 * pino's `redact` paths: the secret headers wherever a headers object is logged (request,
 * response, or one level below any field), and the admin token under its config name. The
 * error serializer below never dumps headers at all; this is for every other line.
 */
export const REDACT_PATHS: readonly string[] = [
  ...['headers', 'req.headers', 'res.headers', '*.headers', '*.*.headers'].flatMap((parent) =>
    SECRET_HEADERS.map((name) => `${parent}["${name}"]`),
  ),
  'adminToken',
  '*.adminToken',
];

/** Longest error message logged; got's and Node's are far shorter, anything longer is noise. */
const MAX_MESSAGE = 300;

/** What an error becomes in a log line. */
export interface LoggedError {
  type: string;
  code?: string;
  message: string;
  /** The origin's status, when the error came with a response. */
  originStatus?: number;
  /** Milliseconds from the start of the origin request to the failure, when got timed it. */
  originMs?: number;
  cause?: LoggedError;
  /** Only for errors without a code: those are bugs, and their stack says where. */
  stack?: string;
}

/**
 * The `err` serializer: type, code, message, the origin's status and timing, the cause. Never
 * the error's other properties: got's errors carry the whole request options (agents, hooks,
 * and the forwarded Authorization and Cookie headers verbatim: 3.3 KB a line, issue 12.5).
 */
export function serializeError(error: unknown, depth = 0): LoggedError {
  if (!isErrorLike(error)) return { type: typeof error, message: String(error).slice(0, MAX_MESSAGE) };
  const fields = error as Error & {
    code?: unknown;
    response?: { statusCode?: unknown };
    timings?: { start?: unknown; error?: unknown; end?: unknown };
  };
  const logged: LoggedError = { type: String(error.name ?? 'Error'), message: error.message.slice(0, MAX_MESSAGE) };
  if (typeof fields.code === 'string') logged.code = fields.code;
  const status = fields.response?.statusCode;
  if (typeof status === 'number') logged.originStatus = status;
  const { start, error: failedAt, end } = fields.timings ?? {};
  const finish = typeof failedAt === 'number' ? failedAt : end;
  if (typeof start === 'number' && typeof finish === 'number') logged.originMs = Math.round(finish - start);
  if (error.cause !== undefined && error.cause !== error && depth < 2) {
    const cause = serializeError(error.cause, depth + 1);
    // Node's socket error under got's RequestError says the same thing again.
    if (cause.code !== logged.code || cause.message !== logged.message) logged.cause = cause;
  }
  if (logged.code === undefined && error.stack !== undefined) logged.stack = error.stack;
  return logged;
}

/** An Error, also one from another realm (a vm context, a worker) where `instanceof` says no. */
function isErrorLike(value: unknown): value is Error {
  return (
    value instanceof Error ||
    (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string')
  );
}

/**
 * The pino options every line goes through: the compact error serializer, `redact` for the
 * secret headers, and, when an admin token is set, a last pass over each line that replaces the
 * token wherever it appears (an error message, a URL), since no path can name every place.
 */
export function loggerOptions(level: string, adminToken = ''): LoggerOptions {
  return {
    level,
    serializers: { err: serializeError },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    ...(adminToken === '' ? {} : { hooks: { streamWrite: (line: string) => line.split(adminToken).join(REDACTED) } }),
  };
}

/**
 * JSON lines for machines; pretty output when a person watches the terminal. `stream` (tests)
 * receives the JSON lines instead of stdout.
 */
export function createLogger(
  level: string,
  destination: 'stdout' | 'silent' = 'stdout',
  options: { adminToken?: string; stream?: DestinationStream } = {},
): Logger {
  if (destination === 'silent') return pino({ level: 'silent' });
  const base = loggerOptions(level, options.adminToken);
  if (options.stream !== undefined) return pino(base, options.stream);
  if (process.stdout.isTTY) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino(base);
}

const REQUEST_ID = Symbol('requestId');
let lastRequestId = 0;
/** What precedes the counter: `req-` and the process's place in its cluster (useClusterRequestIds). */
let requestIdStart = 'req-';

/** Fastify's request id format: `req-` and a base-36 counter. */
function nextRequestId(): string {
  return `${requestIdStart}${(++lastRequestId).toString(36)}`;
}

/**
 * In a process of `--workers N`: its ids become `req-<slot>-<n>` (`req-<slot>.<restarts>-<n>` once
 * the slot's worker has been replaced; the primary, which answers --admin-port, is slot 0), so
 * that no two lines of one cluster's log share an id, whichever process wrote them and however
 * often a worker was replaced. A single process keeps Fastify's `req-<n>`.
 */
export function useClusterRequestIds(slot: number, restarts: number): void {
  requestIdStart = restarts === 0 ? `req-${slot}-` : `req-${slot}.${restarts}-`;
}

/**
 * Fastify's `genReqId`: a new id, kept on the request so that its access line carries the id its
 * error lines (`reqId`) do.
 */
export function assignRequestId(req: IncomingMessage): string {
  return ((req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID] = nextRequestId());
}

/**
 * The request's id for its access line: the one Fastify was given, or, for a request the fast
 * path answered before Fastify saw it, the next one of the same counter (it has no other line).
 */
export function requestIdOf(req: IncomingMessage): string {
  return (req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID] ?? nextRequestId();
}

/**
 * requestIdOf() for a line written as bytes (access-fast-line.ts): the id Fastify was given, or
 * the next id's number, its string never made (requestIdHead() and the number in base 36).
 */
export function requestIdOrNumber(req: IncomingMessage): string | number {
  return (req as IncomingMessage & { [REQUEST_ID]?: string })[REQUEST_ID] ?? ++lastRequestId;
}

/** What precedes the number in the ids this process makes (the same string until it changes). */
export function requestIdHead(): string {
  return requestIdStart;
}
