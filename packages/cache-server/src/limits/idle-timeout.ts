import type { Socket } from 'node:net';

/**
 * For a client the cache itself keeps waiting (detached from a live fetch, it continues from
 * the entry once committed): lifts the connection's idle timeout (`--idle-timeout`) while
 * `waiting`, and restores the server's value after. A client that never reads is still closed
 * once bytes are offered to it again.
 */
export function pauseIdleTimeout(socket: Socket | null): (waiting: boolean) => void {
  return (waiting) => {
    if (!socket || socket.destroyed) return;
    const serverTimeout = (socket as Socket & { server?: { timeout?: number } }).server?.timeout ?? 0;
    socket.setTimeout(waiting ? 0 : serverTimeout);
  };
}
