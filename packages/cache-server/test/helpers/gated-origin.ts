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
 * Content-Length), `cut` (the origin drops the connection at the gate instead; `cut-once`: only
 * the first request's), `headfirst` (no body byte before the gate, only the head), `nostore`
 * (Cache-Control: no-store); else it is cacheable for 10 min with its Content-Length.
 */
export function gatedOrigin(options: { first: number; sizeOf: (path: string) => number }): GatedOrigin {
  const bodies = new Map<string, Buffer>();
  const gates = new Map<string, (() => void)[]>();
  const requests = new Map<string, number>();
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
      const nth = (requests.get(path) ?? 0) + 1;
      requests.set(path, nth);
      const first = path.includes('headfirst') ? 0 : options.first;
      // A head with no body byte yet still goes out now (as a slow origin's would).
      if (first === 0) res.flushHeaders();
      else res.write(body.subarray(0, first));
      const cut = path.includes('cut') && !(path.includes('cut-once') && nth > 1);
      const open = () => (cut ? res.destroy() : res.end(body.subarray(first)));
      gates.set(path, [...(gates.get(path) ?? []), open]);
    },
  };
}
