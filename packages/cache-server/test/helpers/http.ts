import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A plain HTTP request over a fresh connection (or `agent`'s): exact method, path and headers, no
 * normalisation.
 */
export function request(
  base: string,
  path: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent } = {},
): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('response aborted')));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Resolves when `predicate` holds, polling on the event loop (no fixed sleep decides the outcome). */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A response being received: its head, the bytes so far, and how it ended. */
export interface Streaming {
  status: number;
  headers: http.IncomingHttpHeaders;
  response: http.IncomingMessage;
  bytes(): Buffer;
  /** 'broken': reset, aborted, or ended short of its framing (Content-Length, last chunk). */
  done: Promise<'complete' | 'broken'>;
}

/** A GET whose body the test watches as it arrives (resolves with the head). */
export function streamGet(options: http.RequestOptions): Promise<Streaming> {
  return new Promise((resolve, reject) => {
    const req = http.get(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      const done = new Promise<'complete' | 'broken'>((settle) => {
        res.on('end', () => settle(res.complete ? 'complete' : 'broken'));
        res.on('aborted', () => settle('broken'));
        res.on('error', () => settle('broken'));
        res.on('close', () => settle(res.complete ? 'complete' : 'broken'));
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        response: res,
        bytes: () => Buffer.concat(chunks),
        done,
      });
    });
    req.on('error', reject);
  });
}
