import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from './cleanup.js';
import type { Server } from './processes.js';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  bodyLength: number;
  /** performance.now() when the last body byte arrived. */
  endedAt: number;
}

/** One request on a fresh connection (no pooling, so every call is independent of the others). */
export function get(
  url: string,
  headers: http.OutgoingHttpHeaders = {},
  timeoutMs = 30_000,
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, agent: false, headers }, (response) => {
      let bodyLength = 0;
      response.on('data', (chunk: Buffer) => (bodyLength += chunk.length));
      response.once('error', reject);
      response.once('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          bodyLength,
          endedAt: performance.now(),
        }),
      );
    });
    request.setTimeout(timeoutMs, () =>
      request.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)),
    );
    request.once('error', reject);
    request.end();
  });
}

export function headerValue(answer: Answer, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Polls `url` every `intervalMs` until any HTTP answer arrives (the server is serving). Fails
 * when `server` exits first or after `timeoutMs`.
 */
export async function waitForAnswer(url: string, server: Server, timeoutMs = 60_000, intervalMs = 5): Promise<Answer> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (server.hasExited()) throw new Error(`${server.name} exited before serving:\n${await server.logTail()}`);
    try {
      return await get(url, {}, 5000);
    } catch {
      if (performance.now() > deadline) {
        throw new Error(`${server.name} did not answer ${url} within ${timeoutMs} ms:\n${await server.logTail()}`);
      }
      await sleep(intervalMs);
    }
  }
}

/**
 * Listens with `server` (an origin the scenario runs in its own process) on a free loopback
 * port; `close` stops it, and it is stopped at cleanup if the scenario does not get that far.
 */
export async function listenInProcess(server: http.Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  const unregister = onCleanup(stop);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      unregister();
      return stop();
    },
  };
}
