import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closesAfterResponse, lingerOnClose } from '../closing-connections.js';

/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1), answered by the cache instead of by Node (FINDINGS
 * F12): Node writes the `100 Continue` of a *queued* response (a pipelined request waiting for
 * the one before it) into that response's buffer, and a response ended with a Buffer body then
 * puts its head in front of it: the 100 lands inside the body and the connection desynchronises.
 * So the 100 goes out only for the response being written now; a queued request goes without it,
 * which the RFC allows (the client sends its body after its own wait, and the cache reads a
 * GET's body never and a pass-through's once it is its turn).
 */
export function answerExpectContinue(server: Server): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    server.emit('request', req, res);
    // After the request's refusals, which run at once: a request refused (413 for a body too large,
    // 400, 405) gets no 100, or the client would send the body it asked about for nothing (the
    // point of Expect, RFC 9110 §10.1.1; nginx does the same). Nor does one already answered.
    // Node's own notion of "this response owns the socket now" (lib/_http_server.js).
    const owner = (req.socket as { _httpMessage?: unknown })._httpMessage === res;
    if (owner && !res.headersSent && !closesAfterResponse(req)) res.writeContinue();
    // Without a 100, Node closes the connection after this response (lib/_http_server.js), while
    // the client may still send the body after its own wait: close in stages (closing-connections.ts).
    else if (req.httpVersionMajor === 1) lingerOnClose(req.socket);
  });
}
