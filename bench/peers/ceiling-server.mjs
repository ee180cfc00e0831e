/**
 * The ceiling: bare `node:http` answering preallocated Buffers, nothing else. Whatever a Node
 * server does per request costs at least this much. Plain JavaScript, so that its start-up is
 * node's alone (the servers run compiled too). Run as a child process by ceiling.ts:
 *   node bench/peers/ceiling-server.mjs <port> '{"/path": size, …}'
 */
import http from 'node:http';

const port = Number(process.argv[2]);
/** @type {Record<string, number>} */
const sizes = JSON.parse(process.argv[3] ?? '{}');
const bodies = new Map(Object.entries(sizes).map(([path, size]) => [path, Buffer.alloc(size, 'x')]));

http
  .createServer((request, response) => {
    const body = bodies.get(request.url ?? '');
    if (body === undefined) {
      response.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'public, max-age=86400',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  })
  .listen(port, '127.0.0.1');

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(0));
