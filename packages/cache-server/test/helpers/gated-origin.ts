import { randomBytes } from 'node:crypto';
import type http from 'node:http';

export interface GatedOrigin {
  /** The body of `path` (random, made on first use, the same for every request of it). */
  bodyOf(path: string): Buffer;
  /** Lets every response of `path` waiting at its gate go on. */
  open(path: string): void;
  /** The test origin's route (startTestOrigin({ '*': gated.route })). */
  route(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/**
 * An origin whose responses stop mid-body: each path's first `first` bytes go at once, the rest
 * only when the test opens that path's gate, so a test can hold a response mid-body for as long
 * as it likes (and see who streams what meanwhile). The path says how it answers: `chunked` (no
 * Content-Length), `cut` (the origin drops the connection at the gate instead), `nostore`
 * (Cache-Control: no-store); else it is cacheable for 10 min with its Content-Length.
 */
export function gatedOrigin(options: { first: number; sizeOf: (path: string) => number }): GatedOrigin {
  const bodies = new Map<string, Buffer>();
  const gates = new Map<string, (() => void)[]>();
  const bodyOf = (path: string) => {
    let body = bodies.get(path);
    if (!body) bodies.set(path, (body = randomBytes(options.sizeOf(path))));
    return body;
  };
  return {
    bodyOf,
    open: (path) => {
      for (const open of gates.get(path) ?? []) open();
      gates.delete(path);
    },
    route: (req, res) => {
      const path = req.url ?? '/';
      const body = bodyOf(path);
      res.writeHead(200, {
        'cache-control': path.includes('nostore') ? 'no-store' : 'public, max-age=600',
        'content-type': 'application/octet-stream',
        ...(path.includes('chunked') ? {} : { 'content-length': body.length }),
      });
      res.write(body.subarray(0, options.first));
      const open = () => (path.includes('cut') ? res.destroy() : res.end(body.subarray(options.first)));
      gates.set(path, [...(gates.get(path) ?? []), open]);
    },
  };
}
