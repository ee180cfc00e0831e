import { describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { startCache, tempDir } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, fixed } from './helpers/test-origin.js';
import { useTlsOriginAndCache } from './helpers/tls.js';
import { loadConfig } from '../src/config/load-config.js';
import { selfSignedPaths } from '../src/listen/certificates.js';

/** An HTTPS/1.1 request over a fresh connection, trusting `ca`. */
function httpsRequest(
  url: string,
  path: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${path}`, { ca, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          alpn: (res.socket as tls.TLSSocket).alpnProtocol,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the TLS port offers and what certificate it shows, from a bare handshake. */
function handshake(url: string, ca: string, alpn: string[]): Promise<{ alpn: string | false; fingerprint: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: hostname, port: Number(port), ca, ALPNProtocols: alpn, servername: 'localhost' },
      () => {
        const alpnProtocol = socket.alpnProtocol ?? false;
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
        socket.end();
        resolve({ alpn: alpnProtocol, fingerprint });
      },
    );
    socket.on('error', reject);
  });
}

describe('the TLS listener: HTTP/2 and HTTP/1.1 by ALPN, beside the plain port', () => {
  const env = useTlsOriginAndCache({
    '/page': fixed('hello over tls', { 'cache-control': 'max-age=600', 'content-type': 'text/plain' }),
    '/echo-proto': (req, res) => {
      res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'text/plain' });
      res.end(`${req.headers['x-forwarded-proto']} ${req.headers.via} ${req.headers['x-forwarded-host']}`);
    },
  });

  test('ALPN offers h2 first and http/1.1, and nothing else', async () => {
    const url = env.cache.tlsUrl as string;
    expect(await handshake(url, env.certs.ca, ['h2', 'http/1.1'])).toMatchObject({ alpn: 'h2' });
    expect(await handshake(url, env.certs.ca, ['http/1.1'])).toMatchObject({ alpn: 'http/1.1' });
    // A client that offers neither gets no ALPN protocol: TLS fails (RFC 7301 §3.2 no_application_protocol).
    await expect(handshake(url, env.certs.ca, ['spdy/3'])).rejects.toThrow();
  });

  test('the same cached answer over HTTP/2, HTTPS/1.1 and plain HTTP/1.1', async () => {
    const session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      const first = await h2Request(session, '/page');
      expect(first.status).toBe(200);
      expect(first.body.toString()).toBe('hello over tls');
      expect(first.headers['x-cache']).toBe('MISS');
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
      const second = await h2Request(session, '/page');
      expect(second.headers['x-cache']).toBe('HIT');
      // RFC 9113 §8.2.2: no connection-specific field in an HTTP/2 response.
      for (const name of ['connection', 'keep-alive', 'transfer-encoding'])
        expect(second.headers[name]).toBeUndefined();
    } finally {
      await closeH2(session);
    }
    // Node's https client offers no ALPN at all: HTTP/1.1, as for any client that predates ALPN.
    const overTls = await httpsRequest(env.cache.tlsUrl as string, '/page', env.certs.ca);
    expect(overTls.alpn).toBe(false);
    expect(overTls.headers['x-cache']).toBe('HIT');
    expect(overTls.body.toString()).toBe('hello over tls');
    const plain = await request(env.cache.url, '/page');
    expect(plain.headers['x-cache']).toBe('HIT');
    expect(env.origin.count('/page')).toBe(1);
  });

  test('the origin hears which protocol and scheme the client used (Via 2, X-Forwarded-Proto https)', async () => {
    const session = await connectH2(env.cache.tlsUrl as string, env.certs.ca);
    try {
      // A pass-through (POST) keeps X-Forwarded-Host, which fetches for the cache leave out (unkeyed).
      const reply = await h2Request(session, '/echo-proto', { method: 'POST', body: 'x' });
      const port = new URL(env.cache.tlsUrl as string).port;
      expect(reply.body.toString()).toBe(`https 2 simple-cache 127.0.0.1:${port}`);
    } finally {
      await closeH2(session);
    }
    expect((await httpsRequest(env.cache.tlsUrl as string, '/echo-proto', env.certs.ca)).body.toString()).toBe(
      'https 1.1 simple-cache undefined',
    );
    expect((await request(env.cache.url, '/echo-proto')).body.toString()).toMatch(/^http 1\.1 simple-cache /);
  });
});

describe('--max-connections counts the connections of both ports', () => {
  const env = useTlsOriginAndCache(
    { '/page': fixed('counted', { 'cache-control': 'max-age=600' }) },
    { maxConnections: 1 },
  );

  /** A TCP connection that sends nothing: over TLS, a handshake that has not started yet. */
  function holdConnection(url: string): Promise<net.Socket> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => resolve(socket));
      socket.once('error', reject);
    });
  }
  const open = async () => {
    const counts = await Promise.all(
      [env.cache.app.server, env.cache.listeners.tls?.listener.server].map(
        (server) => new Promise<number>((resolve) => server?.getConnections((_error, count) => resolve(count))),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  };

  test('a TLS connection still in its handshake holds a place: a plain request beyond it gets 503', async () => {
    const held = await holdConnection(env.cache.tlsUrl as string);
    try {
      await waitFor(async () => (await open()) === 1, 'the TLS connection to be accepted');
      const refused = await request(env.cache.url, '/page');
      expect(refused.status).toBe(503);
      expect(refused.headers['x-cache-error']).toBe('CACHE_ERR_TOO_MANY_CONNECTIONS');
    } finally {
      held.destroy();
    }
    await waitFor(async () => (await open()) === 0, 'the TLS connection to leave');
    expect((await request(env.cache.url, '/page')).status).toBe(200);
  });

  test('an HTTPS/1.1 request beyond a held plain connection gets 503', async () => {
    const held = await holdConnection(env.cache.url);
    try {
      await waitFor(async () => (await open()) === 1, 'the plain connection to be accepted');
      const refused = await httpsRequest(env.cache.tlsUrl as string, '/page', env.certs.ca);
      expect(refused.status).toBe(503);
      expect(refused.headers['x-cache-error']).toBe('CACHE_ERR_TOO_MANY_CONNECTIONS');
    } finally {
      held.destroy();
    }
    await waitFor(async () => (await open()) === 0, 'the plain connection to leave');
    expect((await httpsRequest(env.cache.tlsUrl as string, '/page', env.certs.ca)).status).toBe(200);
  });
});

describe('--redirect-http: the plain port answers 308 to the same URL over HTTPS', () => {
  const env = useTlsOriginAndCache(
    { '/p': fixed('secure only', { 'cache-control': 'max-age=60' }) },
    { redirectHttp: true },
  );

  test.each([
    ['GET', '/p?q=1', 'example.com', 'example.com'],
    ['POST', '/form', 'example.com:8080', 'example.com'],
    ['HEAD', '/p', '[::1]:80', '[::1]'],
  ])('%s %s (Host %s) → 308 to https://%s:<tls port>, nothing forwarded', async (method, path, host, name) => {
    const tlsPort = new URL(env.cache.tlsUrl as string).port;
    const before = env.origin.requests.length;
    const reply = await request(env.cache.url, path, {
      method,
      headers: { host, ...(method === 'POST' ? { 'content-length': '3' } : {}) },
      ...(method === 'POST' ? { body: 'a=b' } : {}),
    });
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe(`https://${name}:${tlsPort}${path}`);
    expect(env.origin.requests.length).toBe(before);
  });

  test('the TLS port itself serves, it does not redirect', async () => {
    const reply = await httpsRequest(env.cache.tlsUrl as string, '/p', env.certs.ca);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('secure only');
  });
});

describe('--tls-cert self-signed', () => {
  test('generates a certificate for localhost at first start, keeps it, and serves HTTPS with it', async () => {
    const dir = await tempDir();
    const origin = await startTestOrigin({ '/': fixed('welcome', { 'cache-control': 'max-age=60' }) });
    try {
      const first = await startCache(origin.url, dir.dir, { tlsCert: 'self-signed' });
      const files = selfSignedPaths(dir.dir);
      const pem = await readFile(files.cert, 'utf8');
      const cert = new X509Certificate(pem);
      expect(cert.subjectAltName).toMatch(/DNS:localhost/);
      expect(cert.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
      expect(cert.checkHost('localhost')).toBe('localhost');
      // A browser that trusts it (here: the client trusts the generated certificate itself) connects.
      const reply = await httpsRequest(first.tlsUrl as string, '/', pem);
      expect(reply.body.toString()).toBe('welcome');
      expect((await handshake(first.tlsUrl as string, pem, ['h2'])).fingerprint).toBe(cert.fingerprint256);
      await first.close();
      // A restart keeps the same certificate: the browser's exception stays valid.
      const second = await startCache(origin.url, dir.dir, { tlsCert: 'self-signed' });
      try {
        expect(await readFile(files.cert, 'utf8')).toBe(pem);
        expect((await handshake(second.tlsUrl as string, pem, ['h2'])).fingerprint).toBe(cert.fingerprint256);
      } finally {
        await second.close();
      }
    } finally {
      await origin.close();
      await dir.cleanup();
    }
  });
});

describe('TLS options that go together', () => {
  test.each([
    [['--tls-cert', 'a.pem'], '--tls-cert and --tls-key go together'],
    [['--tls-key', 'a.key'], '--tls-cert and --tls-key go together'],
    [['--tls-cert', 'self-signed', '--tls-key', 'a.key'], 'a self-signed certificate brings its own key'],
    [['--redirect-http', 'on'], '--redirect-http needs the TLS listener'],
    [['--origin-cert', 'c.pem'], '--origin-cert and --origin-key go together'],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => loadConfig(argv, {})).toThrow(message);
  });

  test('file options are made absolute; self-signed stays a word, also in a config file', async () => {
    const { config } = loadConfig(['--tls-cert', 'certs/c.pem', '--tls-key', 'certs/k.pem'], {});
    expect(config.tlsCert).toBe(path.resolve('certs/c.pem'));
    const dir = await tempDir();
    try {
      const file = path.join(dir.dir, 'tls.yaml');
      await writeFile(file, 'tls-cert: self-signed\norigin-ca: ca.pem\n');
      const loaded = loadConfig(['--config', file], {}).config;
      expect(loaded.tlsCert).toBe('self-signed');
      expect(loaded.originCa).toBe(path.join(dir.dir, 'ca.pem'));
    } finally {
      await dir.cleanup();
    }
  });
});
