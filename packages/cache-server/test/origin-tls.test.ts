import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startCache, startTestCache, tempDir } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { request, waitFor } from './helpers/http.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';

/** An https origin: what it saw of each request (SNI, client certificate) and how many connections it took. */
interface TlsOrigin {
  url: string;
  connections: number;
  seen: { path: string; servername: string | false; clientSubject: string | undefined }[];
  close(): Promise<void>;
}

async function startTlsOrigin(certs: TestCertificates, options: { clientCa?: string } = {}): Promise<TlsOrigin> {
  const seen: TlsOrigin['seen'] = [];
  const server = https.createServer(
    {
      cert: certs.cert,
      key: certs.key,
      ...(options.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: options.clientCa } : {}),
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      seen.push({
        path: req.url ?? '',
        servername: (socket as TLSSocket & { servername?: string | false }).servername ?? false,
        clientSubject: socket.getPeerCertificate()?.subject?.CN as string | undefined,
      });
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' });
      res.end(`secure ${req.url}`);
    },
  );
  const origin: TlsOrigin = { url: '', connections: 0, seen, close: async () => {} };
  server.on('secureConnection', () => origin.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  origin.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return origin;
}

describe('HTTPS origins', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let originCerts: TestCertificates;
  let internalCerts: TestCertificates;
  let clientCerts: TestCertificates;
  const origins: TlsOrigin[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    originCerts = await makeCertificates(dir.dir, { prefix: 'origin' });
    // Issued for a name only: reached at 127.0.0.1, it needs --origin-servername.
    internalCerts = await makeCertificates(dir.dir, { prefix: 'internal', names: ['origin.internal'], ips: [] });
    clientCerts = await makeCertificates(dir.dir, {
      prefix: 'client',
      names: ['cache-node-1'],
      ips: [],
      clientAuth: true,
    });
  });
  afterAll(async () => {
    for (const origin of origins) await origin.close();
    await dir?.cleanup();
  });

  async function origin(certs: TestCertificates, options: { clientCa?: string } = {}): Promise<TlsOrigin> {
    const started = await startTlsOrigin(certs, options);
    origins.push(started);
    return started;
  }

  test('--origin-ca: the origin is verified against that CA; misses and hits as over http, on one kept-alive connection', async () => {
    const secure = await origin(originCerts);
    const cache = await startCache(secure.url, `${dir.dir}/a`, { originCa: originCerts.caFile });
    try {
      for (const path of ['/a', '/b', '/c']) {
        const reply = await request(cache.url, path);
        expect(reply.status).toBe(200);
        expect(reply.body.toString()).toBe(`secure ${path}`);
        expect(reply.headers['x-cache']).toBe('MISS');
        await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
      }
      expect((await request(cache.url, '/a')).headers['x-cache']).toBe('HIT');
      // Keep-alive applies to https origins too: three fetches, one TLS connection.
      expect(secure.connections).toBe(1);
      expect(secure.seen.map((s) => s.servername)).toEqual([false, false, false]);
    } finally {
      await cache.close();
    }
  });

  test("without the origin's CA: 502 CACHE_ERR_ORIGIN_TLS, nothing stored", async () => {
    const secure = await origin(originCerts);
    const cache = await startCache(secure.url, `${dir.dir}/b`);
    try {
      const reply = await request(cache.url, '/x');
      expect(reply.status).toBe(502);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TLS');
      expect(secure.seen).toHaveLength(0);
    } finally {
      await cache.close();
    }
  });

  test('--origin-servername: sent in SNI and checked against the certificate', async () => {
    const internal = await origin(internalCerts);
    const named = await startCache(internal.url, `${dir.dir}/c`, {
      originCa: internalCerts.caFile,
      originServername: 'origin.internal',
    });
    const unnamed = await startCache(internal.url, `${dir.dir}/d`, { originCa: internalCerts.caFile });
    try {
      const reply = await request(named.url, '/n');
      expect(reply.status).toBe(200);
      expect(internal.seen.at(-1)?.servername).toBe('origin.internal');
      // Reached by its address, the certificate (for origin.internal only) does not match.
      const mismatch = await request(unnamed.url, '/n');
      expect(mismatch.status).toBe(502);
      expect(mismatch.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TLS');
    } finally {
      await named.close();
      await unnamed.close();
    }
  });

  test('--origin-cert/--origin-key: presented to an origin that asks for a client certificate', async () => {
    const strict = await origin(originCerts, { clientCa: clientCerts.ca });
    const withCert = await startCache(strict.url, `${dir.dir}/e`, {
      originCa: originCerts.caFile,
      originCert: clientCerts.certFile,
      originKey: clientCerts.keyFile,
    });
    const without = await startCache(strict.url, `${dir.dir}/f`, { originCa: originCerts.caFile });
    try {
      expect((await request(withCert.url, '/m')).status).toBe(200);
      expect(strict.seen.at(-1)?.clientSubject).toBe('cache-node-1');
      const refused = await request(without.url, '/m');
      expect(refused.status).toBe(502);
      expect(refused.headers['x-cache-error']).toBe('CACHE_ERR_ORIGIN_TLS');
    } finally {
      await withCert.close();
      await without.close();
    }
  });

  test('--origin-insecure: any certificate is accepted, and start-up says so loudly', async () => {
    const secure = await origin(originCerts);
    const log = captureLog('info');
    const cache = await startTestCache(
      { origin: secure.url, cacheDir: `${dir.dir}/g`, originInsecure: true },
      { logger: log.logger },
    );
    try {
      expect((await request(cache.url, '/i')).status).toBe(200);
      const warning = log.lines.find((line) => String(line.msg).includes('--origin-insecure'));
      expect(warning).toMatchObject({ level: 40, origin: secure.url });
    } finally {
      await cache.close();
    }
  });

  test('an unreadable --origin-ca fails start-up, naming the option and the file', async () => {
    await expect(
      startCache('https://127.0.0.1:1', `${dir.dir}/h`, { originCa: `${dir.dir}/absent-ca.pem` }),
    ).rejects.toMatchObject({ code: 'CACHE_ERR_BAD_CERTIFICATE', message: expect.stringContaining('--origin-ca') });
  });
});
