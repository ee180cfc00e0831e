import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Where an HTTP/1.1 server keeps its `--idle-timeout` (its sockets reach it as `socket.server`). */
const IDLE_TIMEOUT = Symbol('simple-cache.idleTimeout');

type WithIdleTimeout = { [IDLE_TIMEOUT]?: number };

/**
 * `--idle-timeout` for HTTP/1.1 (plain, and HTTPS/1.1 handed to the same server), armed only
 * on connections that need it: a timer on every socket (`server.setTimeout`) cost each new
 * connection its set-up, a refresh per read and write, and its removal (docs/benchmarks.md,
 * "new connection per request"). Returns `handler` wrapped: once it has run, a response not yet
 * handed whole to the kernel (any full-path request, a fast hit the client does not read) arms
 * the timer on its socket, and a client that stops reading is closed as before. A response the
 * kernel took whole needs none: the connection then closes (`Connection: close`) or waits under
 * Node's keep-alive timeout, as it did. Before its first request head a connection is bounded by
 * `--headers-timeout` (Node's periodic check, 408); only when the idle timeout is shorter than
 * that is the timer set on every connection, so that a silent one is closed as early as before.
 */
export function applyIdleTimeout(server: Server, ms: number, headersTimeout: number, handler: Handler): Handler {
  (server as Server & WithIdleTimeout)[IDLE_TIMEOUT] = ms;
  if (ms <= 0) return handler;
  if (ms < headersTimeout) server.setTimeout(ms);
  return (req, res) => {
    handler(req, res);
    if (res.writableFinished) return;
    const socket = req.socket;
    // Node sets `timeout` with setTimeout(); after a keep-alive wait it resets it to 0.
    if (socket.timeout !== ms && !socket.destroyed) socket.setTimeout(ms);
  };
}

/** The idle timeout each HTTP/2 stream was given (applyStreamIdleTimeout), to restore after a pause. */
const streamTimeouts = new WeakMap<Http2Stream, number>();

/**
 * `--idle-timeout` for one HTTP/2 stream: closed (RST_STREAM CANCEL) once no byte has moved on it
 * for `ms`, e.g. a client that stopped reading it. HTTP/1.1 gets the same from the connection's
 * socket timeout; over HTTP/2 many streams share the connection, so each stream keeps its own.
 */
export function applyStreamIdleTimeout(stream: Http2Stream, ms: number, onTimeout: () => void): void {
  streamTimeouts.set(stream, ms);
  stream.setTimeout(ms, onTimeout);
}

/**
 * For a client the cache itself keeps waiting (detached from a live fetch, it continues from
 * the entry once committed): lifts the idle timeout (`--idle-timeout`) while `waiting`, and
 * restores it after: the connection's for HTTP/1.1, the stream's for HTTP/2. A client that
 * never reads is still closed once bytes are offered to it again.
 */
export function pauseIdleTimeout(res: ServerResponse): (waiting: boolean) => void {
  const stream = (res as { stream?: Http2Stream }).stream;
  if (stream !== undefined) {
    return (waiting) => {
      if (stream.destroyed) return;
      stream.setTimeout(waiting ? 0 : (streamTimeouts.get(stream) ?? 0));
    };
  }
  const socket: Socket | null = res.socket;
  return (waiting) => {
    if (!socket || socket.destroyed) return;
    const idle = (socket as Socket & { server?: WithIdleTimeout }).server?.[IDLE_TIMEOUT] ?? 0;
    socket.setTimeout(waiting ? 0 : idle);
  };
}
