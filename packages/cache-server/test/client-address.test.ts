/**
 * FINDINGS F20: every access line names its client, also when the client left before its
 * response completed. The line is written at the response's `close`; by then the connection of a
 * client that left is closed, and a closed socket's address can no longer be asked of the kernel
 * (getpeername), so such lines said `"client":""` unless something had happened to read the
 * address earlier. The cache reads it once per connection, as the connection is accepted
 * (client-address.ts). The clients here join a response still coming from the origin (collapsed
 * onto another client's fetch, so nothing on their own path asks for their address), take its
 * head and leave: over plain HTTP/1.1 (raw TCP), HTTPS/1.1 (TLS, ALPN http/1.1) and HTTP/2
 * (node:http2, its connection closed).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { gatedOrigin } from './helpers/gated-origin.js';
import { waitFor } from './helpers/http.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

/** Bytes the origin sends at once; the rest waits for the test to open the path's gate. */
const FIRST = 1024;
const gated = gatedOrigin({ first: FIRST, sizeOf: () => 64 * 1024 });

let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCertificates;

beforeAll(async () => {
  dir = await tempDir();
  certs = await makeCertificates(dir.dir);
  origin = await startTestOrigin({ '*': gated.route });
});
afterAll(async () => {
  await origin?.close();
  await dir?.cleanup();
});

interface Line {
  client: string;
  path: string;
  status: number;
  aborted?: boolean;
}

/** A client that asks for `pathname`, waits for the head of its answer, and closes its connection. */
type Leaver = (cache: StartedCache, pathname: string) => Promise<void>;

/** Sends `request` on `socket` (connected), resolves once the answer's status line arrived, then destroys it. */
async function leaveAfterHead(socket: net.Socket, request: string): Promise<void> {
  socket.write(request);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a head arrived: ${JSON.stringify(text)}`)));
  });
  expect(text.startsWith('HTTP/1.1 200')).toBe(true);
  socket.destroy();
}

const request = (pathname: string) => `GET ${pathname} HTTP/1.1\r\nHost: cache.test\r\n\r\n`;

const LEAVERS: [string, Leaver][] = [
  [
    'HTTP/1.1 over TCP',
    async (cache, pathname) => {
      const url = new URL(cache.url);
      const socket = net.connect(Number(url.port), url.hostname);
      await once(socket, 'connect');
      await leaveAfterHead(socket, request(pathname));
    },
  ],
  [
    'HTTPS/1.1 (ALPN http/1.1)',
    async (cache, pathname) => {
      const url = new URL(cache.tlsUrl as string);
      const socket = tls.connect({
        host: url.hostname,
        port: Number(url.port),
        ca: certs.ca,
        servername: 'localhost',
        ALPNProtocols: ['http/1.1'],
      });
      await once(socket, 'secureConnect');
      expect(socket.alpnProtocol).toBe('http/1.1');
      await leaveAfterHead(socket, request(pathname));
    },
  ],
  [
    'HTTP/2',
    async (cache, pathname) => {
      const session = http2.connect(cache.tlsUrl as string, { ca: certs.ca, servername: 'localhost' });
      session.on('error', () => {});
      const stream = session.request({ ':path': pathname });
      stream.on('error', () => {});
      const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
      expect(headers[':status']).toBe(200);
      session.destroy();
    },
  ],
];

describe.each(LEAVERS)('a client that leaves mid-response, %s', (_name, leave) => {
  test('its access line names its address, as the line of the client that stayed does', async () => {
    const file = path.join(dir.dir, `access-${Math.random().toString(36).slice(2)}.log`);
    const pathname = `/left-${Math.random().toString(36).slice(2)}`;
    const cache = await startTestCache(
      {
        origin: origin.url,
        cacheDir: `${file}.cache`,
        tlsCert: certs.certFile,
        tlsKey: certs.keyFile,
        accessLog: 'json',
        accessLogFile: file,
      },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      // The client that stays: its request makes the cache fetch, which stops at the gate.
      const stayed = new Promise<number>((resolve, reject) => {
        http
          .get(`${cache.url}${pathname}`, { agent: false }, (res) => {
            let bytes = 0;
            res.on('data', (chunk: Buffer) => (bytes += chunk.length));
            res.on('end', () => resolve(bytes));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      await waitFor(() => origin.count(pathname) === 1, 'the fetch to start');
      await leave(cache, pathname);
      gated.open(pathname);
      expect(await stayed).toBe(gated.bodyOf(pathname).length);
      // The client that left joined the first one's fetch: one origin request.
      expect(origin.count(pathname)).toBe(1);
    } finally {
      gated.open(pathname);
      await cache.close();
    }
    const lines = (await readFile(file, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line)
      .filter((line) => line.path === pathname);
    expect(lines).toHaveLength(2);
    const left = lines.find((line) => line.aborted === true);
    expect(left).toMatchObject({ client: '127.0.0.1', status: 200 });
    expect(lines.map((line) => line.client)).toEqual(['127.0.0.1', '127.0.0.1']);
  });
});
