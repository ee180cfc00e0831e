import type { ServerResponse } from 'node:http';
import type { Http2Stream } from 'node:http2';
import type { Socket } from 'node:net';

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
    const serverTimeout = (socket as Socket & { server?: { timeout?: number } }).server?.timeout ?? 0;
    socket.setTimeout(waiting ? 0 : serverTimeout);
  };
}
