import type { IncomingMessage, Server, ServerResponse } from 'node:http';

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
    // Node's own notion of "this response owns the socket now" (lib/_http_server.js).
    if ((req.socket as { _httpMessage?: unknown })._httpMessage === res) res.writeContinue();
    server.emit('request', req, res);
  });
}
