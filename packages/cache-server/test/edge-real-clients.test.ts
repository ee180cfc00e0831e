// @system-packages curl
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { runCurl } from './helpers/raw-response.js';
import { spawnCli, type Spawned } from './helpers/spawn.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';

/**
 * The real cache-server process (cli.ts: flags, TLS port, HTTP/2) in front of an origin, driven by
 * curl: HTTP/2 and HTTP/1.1 over TLS, plain HTTP/1.1, `--compressed`. What a browser or an operator
 * with curl sees, rather than what Node's own clients see.
 */

/** A 64 KiB page that compresses as HTML does. */
const PAGE = Buffer.from(
  Array.from({ length: 2000 }, (_, i) => `<p class="c${i % 7}">entry ${(i * 2654435761) % 99991}</p>\n`)
    .join('')
    .slice(0, 64 * 1024),
);

let dir: { dir: string; cleanup(): Promise<void> };
let origin: TestOrigin;
let certs: TestCertificates;
let run: Spawned;
let plainUrl: string;
let tlsUrl: string;

beforeAll(async () => {
  dir = await tempDir();
  origin = await startTestOrigin({
    '*': (req, res) => {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'max-age=600',
        'content-length': String(PAGE.length),
        etag: '"p1"',
      });
      res.end(req.method === 'HEAD' ? undefined : PAGE);
    },
  });
  certs = await makeCertificates(dir.dir);
  run = spawnCli(
    ['0', '--host', '127.0.0.1', '--origin', origin.url, '--tls-cert', certs.certFile, '--tls-key', certs.keyFile],
    { CACHE_DIR: path.join(dir.dir, 'cache'), CACHE_TLS_PORT: '0' },
  );
  plainUrl = await run.listening();
  await waitFor(() => /"https":"https:\/\/127\.0\.0\.1:\d+\/"/.test(run.stdout()), 'the ready line');
  tlsUrl = (/"https":"(https:\/\/127\.0\.0\.1:\d+)\/"/.exec(run.stdout()) as RegExpExecArray)[1] as string;
}, 60_000);

afterAll(async () => {
  run?.child.kill('SIGTERM');
  await run?.exited;
  await origin?.close();
  await dir?.cleanup();
});

interface CurlReply {
  /** The protocol of the final response's status line: `HTTP/2` or `HTTP/1.1`. */
  protocol: string;
  status: number;
  headers: Record<string, string>;
  /** The body as written by curl (decoded with --compressed). */
  body: Buffer;
}

let n = 0;
/** curl with `args` for `url`, head and body read from files (bodies are binary). */
async function curl(url: string, args: string[]): Promise<CurlReply> {
  const headFile = path.join(dir.dir, `head-${n}`);
  const bodyFile = path.join(dir.dir, `body-${n++}`);
  const { code } = await runCurl(['-s', '--cacert', certs.caFile, '-D', headFile, '-o', bodyFile, ...args, url]);
  expect(code).toBe(0);
  const head = (await readFile(headFile, 'latin1'))
    .trim()
    .split(/\r\n\r\n/)
    .pop() as string;
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const [protocol = '', status = '0'] = statusLine.split(' ');
  return { protocol, status: Number(status), headers, body: await readFile(bodyFile) };
}

/** The fields that describe the representation and its caching: equal whichever protocol carried it. */
function representation(reply: CurlReply): Record<string, string | undefined> {
  const names = ['content-type', 'content-length', 'content-encoding', 'etag', 'cache-control', 'vary', 'x-cache'];
  return Object.fromEntries(names.map((name) => [name, reply.headers[name]]));
}

describe('curl against the real cache-server process', () => {
  test('curl --http2: a miss then a hit over HTTP/2, byte-identical to the hit over HTTP/1.1 (TLS and plain)', async () => {
    const miss = await curl(`${tlsUrl}/h2`, ['--http2']);
    expect([miss.protocol, miss.status, miss.headers['x-cache']]).toEqual(['HTTP/2', 200, 'MISS']);
    expect(miss.body.equals(PAGE)).toBe(true);
    await waitFor(async () => (await curl(`${tlsUrl}/h2`, ['--http2'])).headers['x-cache'] === 'HIT', 'the hit');
    const h2 = await curl(`${tlsUrl}/h2`, ['--http2']);
    const h1tls = await curl(`${tlsUrl}/h2`, ['--http1.1']);
    const h1 = await curl(`${plainUrl}/h2`, []);
    expect([h2.protocol, h1tls.protocol, h1.protocol]).toEqual(['HTTP/2', 'HTTP/1.1', 'HTTP/1.1']);
    for (const reply of [h2, h1tls, h1]) {
      expect(reply.body.equals(PAGE)).toBe(true);
      expect(representation(reply)).toEqual(representation(h2));
    }
    // HTTP/2 carries no connection-specific fields (RFC 9113 §8.2.2).
    expect(h2.headers.connection).toBeUndefined();
    expect(h2.headers['keep-alive']).toBeUndefined();
    expect(origin.count('/h2')).toBe(1);
  });

  test('curl --compressed, over HTTP/2 and HTTP/1.1: the stored br copy, decoded by curl to the origin bytes', async () => {
    await curl(`${tlsUrl}/z`, ['--http2', '--compressed']);
    // The copies commit just after the identity body.
    await waitFor(
      async () => (await curl(`${tlsUrl}/z`, ['--http2', '--compressed'])).headers['content-encoding'] === 'br',
      'the br copy',
    );
    for (const args of [['--http2'], ['--http1.1']]) {
      const compressed = await curl(`${tlsUrl}/z`, [...args, '--compressed']);
      expect(compressed.headers['x-cache']).toBe('HIT');
      expect(compressed.headers['content-encoding']).toBe('br');
      expect(compressed.headers.vary).toMatch(/accept-encoding/i);
      expect(compressed.headers.etag).toBe('W/"p1"');
      expect(compressed.headers['accept-ranges']).toBeUndefined();
      expect(Number(compressed.headers['content-length'])).toBeLessThan(PAGE.length / 3);
      expect(compressed.body.equals(PAGE)).toBe(true);
    }
    // The raw bytes, as sent: gzip for a gzip-only client, br for a br one, identity without the header.
    const gz = await curl(`${plainUrl}/z`, ['-H', 'Accept-Encoding: gzip']);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    expect(gunzipSync(gz.body).equals(PAGE)).toBe(true);
    const br = await curl(`${tlsUrl}/z`, ['--http2', '-H', 'Accept-Encoding: br']);
    expect(brotliDecompressSync(br.body).equals(PAGE)).toBe(true);
    const plain = await curl(`${tlsUrl}/z`, ['--http2']);
    expect([plain.headers['content-encoding'], plain.headers.etag, plain.headers['accept-ranges']]).toEqual([
      undefined,
      '"p1"',
      'bytes',
    ]);
    expect(plain.body.equals(PAGE)).toBe(true);
    expect(origin.count('/z')).toBe(1);
  });

  test('TLS below 1.2 is refused; TLS 1.3 and 1.2 are served', async () => {
    const { port } = new URL(tlsUrl);
    const handshake = (version: tls.SecureVersion) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port: Number(port),
          ca: certs.ca,
          minVersion: version,
          maxVersion: version,
        });
        socket.once('secureConnect', () => {
          resolve(socket.getProtocol() ?? '');
          socket.destroy();
        });
        socket.once('error', () => resolve('refused'));
      });
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
    expect(await handshake('TLSv1.2')).toBe('TLSv1.2');
    // OpenSSL 3 refuses TLS 1.1 on the client side too unless told otherwise (SECLEVEL=0; curl
    // then speaks it to a server that allows it): so the refusal below is the cache's.
    const old = ['--tls-max', '1.1', '--tlsv1.1', '--ciphers', 'DEFAULT:@SECLEVEL=0'];
    const { code } = await runCurl(['-s', '-o', '/dev/null', '--cacert', certs.caFile, ...old, `${tlsUrl}/`]);
    expect(code).toBe(35); // CURLE_SSL_CONNECT_ERROR: the handshake failed
  });
});
