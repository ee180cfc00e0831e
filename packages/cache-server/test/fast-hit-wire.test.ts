import { beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { RawConnection, type RawResponse } from './helpers/raw.js';
import type { Route } from './helpers/test-origin.js';

/**
 * Issue 15: a fast hit's head is Node's own serialisation made once a second and handed to the
 * response (proxy/respond/wire-head.ts), not writeHead per request. What writeHead decides per
 * connection must still hold, seen from the outside over raw sockets: keep-alive and its
 * Keep-Alive field, Connection: close (asked by the client, or HTTP/1.0), pipelined requests
 * answered in order, HEAD, a reader slower than the writer, bodies from 11 bytes to 1 MiB.
 */
const BODIES: Record<string, Buffer> = {
  '/small': Buffer.from('small body\n'),
  '/16k': randomBytes(16 * 1024),
  '/1m': randomBytes(1024 * 1024),
  // An origin that sends no Date: Node adds the current one, so its head changes every second.
  '/undated': Buffer.from('no date from the origin\n'),
};

function route(path: string): Route {
  return (_req, res) => {
    if (path === '/undated') res.sendDate = false;
    const body = BODIES[path] as Buffer;
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'application/octet-stream', 'x-kept': 'yes' });
    res.end(body);
  };
}

/** A request as bytes; `fields` are extra header lines. */
function raw(method: string, path: string, fields: string[] = [], version = '1.1'): string {
  return `${method} ${path} HTTP/${version}\r\nHost: example.test\r\n${fields.map((f) => `${f}\r\n`).join('')}\r\n`;
}

/** An unknown Pragma directive changes nothing policy decides but sends a request down the full path. */
const FULL_PATH = 'Pragma: x-full-path';

/** Date, Age and the ttl of our Cache-Status member move with the clock. */
function comparable(head: string): string {
  return head
    .replace(/^date: .*$/gim, 'date: <date>')
    .replace(/^age: \d+\r$/gim, 'age: <age>\r')
    .replace(/ttl=-?\d+/g, 'ttl=<ttl>');
}

describe('fast hits keep what writeHead decides per connection', () => {
  const env = useOriginAndCache(Object.fromEntries(Object.keys(BODIES).map((path) => [path, route(path)])));
  const served = () => env.cache.fastHit?.served ?? NaN;

  beforeAll(async () => {
    for (const path of Object.keys(BODIES)) {
      await request(env.cache.url, path);
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
      // Read once by the full path, so that the memory tier holds the body.
      await request(env.cache.url, path, { headers: { pragma: 'x-full-path' } });
    }
  });

  const cases = Object.keys(BODIES).flatMap((path) => [
    [path, 'GET'],
    [path, 'HEAD'],
  ]);

  test.each(cases)('keep-alive %s %s: the full path’s bytes, and the connection stays open', async (path, method) => {
    const connection = await RawConnection.open(env.cache.url);
    try {
      const bodiless = method === 'HEAD';
      for (let round = 0; round < 2; round++) {
        const before = served();
        connection.send(raw(method, path));
        const fast = await connection.next(bodiless);
        expect(served()).toBe(before + 1);
        connection.send(raw(method, path, [FULL_PATH]));
        const full = await connection.next(bodiless);
        expect(served()).toBe(before + 1);

        expect(fast.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        expect(fast.head).toMatch(/\r\nx-cache: HIT\r\n/);
        expect(fast.head).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=\d+\r\n\r\n$/);
        expect(comparable(fast.head)).toBe(comparable(full.head));
        expect(fast.body.equals(bodiless ? Buffer.alloc(0) : (BODIES[path] as Buffer))).toBe(true);
        expect(full.body.equals(fast.body)).toBe(true);
      }
      expect(connection.unread).toBe(0);
    } finally {
      connection.destroy();
    }
  });

  test('an origin without Date: the Date Node adds, where it adds it', async () => {
    const connection = await RawConnection.open(env.cache.url);
    try {
      connection.send(raw('GET', '/undated'));
      const { head } = await connection.next();
      // One Date, Node's, after the stored fields and before the connection's.
      expect(head.match(/^date:/gim)).toHaveLength(1);
      expect(head).toMatch(
        /\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\nConnection: keep-alive\r\n/,
      );
      const date = Date.parse(/\r\nDate: ([^\r]*)\r\n/.exec(head)?.[1] ?? '');
      expect(Math.abs(date - Date.now())).toBeLessThan(60_000);
    } finally {
      connection.destroy();
    }
  });

  test('pipelined requests, fast and full, are answered in order on one connection', async () => {
    const connection = await RawConnection.open(env.cache.url);
    const before = served();
    const sequence: [string, string, string[]][] = [
      ['GET', '/small', []],
      ['HEAD', '/16k', []],
      ['GET', '/1m', []],
      ['GET', '/small', [FULL_PATH]],
      ['GET', '/16k', []],
      ['HEAD', '/1m', [FULL_PATH]],
      ['GET', '/small', ['Connection: close']],
    ];
    connection.send(sequence.map(([method, path, fields]) => raw(method, path, fields)).join(''));
    const answers: RawResponse[] = [];
    for (const [method] of sequence) answers.push(await connection.next(method === 'HEAD'));
    await connection.closed;

    expect(connection.unread).toBe(0);
    expect(served() - before).toBe(5);
    answers.forEach((answer, i) => {
      const [method, path] = sequence[i] as [string, string, string[]];
      const body = BODIES[path] as Buffer;
      expect(answer.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answer.head).toContain(`\r\ncontent-length: ${body.length}\r\n`);
      expect(answer.body.equals(method === 'HEAD' ? Buffer.alloc(0) : body)).toBe(true);
      const last = i === sequence.length - 1;
      expect(answer.head.endsWith(last ? '\r\nConnection: close\r\n\r\n' : '\r\nKeep-Alive: timeout=72\r\n\r\n')).toBe(
        true,
      );
    });
  });

  test('Connection: close from the client: the full path’s answer, then the server closes', async () => {
    const answers: RawResponse[] = [];
    for (const fields of [['Connection: close'], ['Connection: close', FULL_PATH]]) {
      const connection = await RawConnection.open(env.cache.url);
      const before = served();
      connection.send(raw('GET', '/16k', fields));
      answers.push(await connection.next());
      await connection.closed;
      expect(served() - before).toBe(fields.length === 1 ? 1 : 0);
    }
    const [fast, full] = answers as [RawResponse, RawResponse];
    expect(fast.head).toMatch(/\r\nConnection: close\r\n\r\n$/);
    expect(comparable(fast.head)).toBe(comparable(full.head));
    expect(fast.body.equals(BODIES['/16k'] as Buffer)).toBe(true);
  });

  test('HTTP/1.0 without keep-alive: Connection: close and the connection closes, as on the full path', async () => {
    const answers: RawResponse[] = [];
    for (const fields of [[], [FULL_PATH]]) {
      const connection = await RawConnection.open(env.cache.url);
      connection.send(raw('GET', '/small', fields, '1.0'));
      answers.push(await connection.next());
      await connection.closed;
    }
    const [fast, full] = answers as [RawResponse, RawResponse];
    expect(fast.head).toMatch(/\r\nConnection: close\r\n\r\n$/);
    expect(comparable(fast.head)).toBe(comparable(full.head));
    expect(fast.body.equals(BODIES['/small'] as Buffer)).toBe(true);
  });

  test('HTTP/1.0 with Connection: keep-alive: kept alive, the next request answered on it', async () => {
    const connection = await RawConnection.open(env.cache.url);
    try {
      const before = served();
      connection.send(raw('GET', '/small', ['Connection: keep-alive'], '1.0'));
      const first = await connection.next();
      connection.send(raw('HEAD', '/16k', ['Connection: keep-alive'], '1.0'));
      const second = await connection.next(true);
      expect(served() - before).toBe(2);
      expect(first.head).toMatch(/\r\nConnection: keep-alive\r\nKeep-Alive: timeout=72\r\n\r\n$/);
      expect(first.body.equals(BODIES['/small'] as Buffer)).toBe(true);
      expect(second.head).toContain('\r\ncontent-length: 16384\r\n');
    } finally {
      connection.destroy();
    }
  });

  test('a reader slower than the writer gets every pipelined 1 MiB body whole and in order', async () => {
    const connection = await RawConnection.open(env.cache.url);
    try {
      const count = 8;
      const before = served();
      // Not reading while 8 MiB are asked for: more than the socket buffers hold, so the server
      // must wait for the reader (write() returning false, the parser paused) mid-pipeline.
      connection.socket.pause();
      connection.send(raw('GET', '/1m').repeat(count));
      await waitFor(() => served() > before, 'the first pipelined request to be answered');
      // Then one chunk per turn of the event loop.
      connection.socket.on('data', () => {
        connection.socket.pause();
        setImmediate(() => connection.socket.resume());
      });
      connection.socket.resume();
      for (let i = 0; i < count; i++) {
        const answer = await connection.next();
        expect(answer.body.equals(BODIES['/1m'] as Buffer)).toBe(true);
      }
      expect(served() - before).toBe(count);
      expect(connection.unread).toBe(0);
    } finally {
      connection.destroy();
    }
  });
});
