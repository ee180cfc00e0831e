import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { RawConnection } from './helpers/raw.js';

/**
 * What an operator used to nginx's WebSocket recipe sees: the cache tunnels nothing. `Upgrade`
 * and `Connection` are hop-by-hop (RFC 9110 §7.6.1, §7.8), so the origin gets a plain GET and
 * its answer goes back on a connection that stays HTTP/1.1 (docs/caching-rules.md, Request
 * headers the origin receives).
 */
describe('a WebSocket handshake through the cache', () => {
  const env = useOriginAndCache({
    '/ws': (req, res) => {
      const body = `upgrade=${String(req.headers.upgrade)}`;
      res.writeHead(426, { 'content-type': 'text/plain', 'content-length': body.length, upgrade: 'websocket' });
      res.end(body);
    },
    '/after': (_req, res) => res.end('after'),
  });

  test('reaches the origin as a plain GET; its 426 comes back and the connection goes on as HTTP/1.1', async () => {
    const connection = await RawConnection.open(env.cache.url);
    try {
      connection.send(
        'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      const answer = await connection.next();
      expect(answer.head).toMatch(/^HTTP\/1\.1 426 /);
      expect(answer.head).not.toMatch(/\r\nupgrade:/i);
      expect(answer.body.toString()).toBe('upgrade=undefined');
      connection.send('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
      expect((await connection.next()).body.toString()).toBe('after');
    } finally {
      connection.socket.destroy();
    }
    const seen = env.origin.requests.find((request) => request.url === '/ws');
    expect([seen?.method, seen?.headers.upgrade]).toEqual(['GET', undefined]);
  });
});
