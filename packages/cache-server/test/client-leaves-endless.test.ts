import { describe, expect, test } from '@jest/globals';
import http from 'node:http';
import http2 from 'node:http2';
import { connectH2 } from './helpers/h2.js';
import { waitFor } from './helpers/http.js';
import { useTlsOriginAndCache } from './helpers/tls.js';

/**
 * A response nothing stores is read from the origin only for the clients reading it: when the
 * last one leaves, the origin's response is closed, as nginx closes its upstream when the client
 * goes. Before, the cache read on for nobody: a body without end (a Server-Sent Events stream,
 * `text/event-stream`, `no-store`) was read for good after its client had gone, one origin
 * connection per page view, each held open by the origin too. A response being stored is still
 * read to its end for the store (http2-behaviour: a client that cancels a miss).
 *
 * The origin answers every path with an endless event stream (an event every 20 ms) and records
 * when each stream's connection went away.
 */
describe('the last client leaves a response nothing stores: the origin’s response is closed', () => {
  const closed = new Map<string, boolean>();
  const env = useTlsOriginAndCache({
    '*': (req, res) => {
      const path = req.url ?? '/';
      closed.set(path, false);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      let n = 0;
      const timer = setInterval(() => res.write(`data: ${n++}\n\n`), 20);
      res.once('close', () => {
        clearInterval(timer);
        closed.set(path, true);
      });
    },
  });

  /** Reads an HTTP/1.1 response until `events` events came, then closes the connection. */
  function readThenLeave(method: string, path: string, events: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const url = new URL(env.cache.url);
      const req = http.request({ host: url.hostname, port: url.port, method, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.split('\n\n').length > events) {
            req.destroy();
            resolve(String(res.headers['x-cache']));
          }
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end();
    });
  }

  test.each([
    ['GET (a miss that is not stored)', 'GET', '/events/get', 'MISS'],
    ['POST (passed through)', 'POST', '/events/post', 'BYPASS'],
  ])('over HTTP/1.1, %s', async (_label, method, path, xCache) => {
    expect(await readThenLeave(method, path, 3)).toBe(xCache);
    await waitFor(() => closed.get(path) === true, `the origin's response for ${path} to be closed`);
  });

  test('over HTTP/2, a stream the client cancels; the connection goes on', async () => {
    const session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      const path = '/events/h2';
      const stream = session.request({ ':path': path }, { endStream: true });
      let text = '';
      stream.setEncoding('utf8');
      await new Promise<void>((resolve) =>
        stream.on('data', (chunk: string) => {
          text += chunk;
          if (text.split('\n\n').length > 3) resolve();
        }),
      );
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => closed.get(path) === true, `the origin's response for ${path} to be closed`);
      expect(session.destroyed).toBe(false);
    } finally {
      session.destroy();
    }
  });
});
