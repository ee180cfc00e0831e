import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { waitFor } from './helpers/http.js';
import { spawnCli } from './helpers/spawn.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';

/** The certificate a new handshake is shown. */
function servedFingerprint(url: string, ca: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: hostname, port: Number(port), ca, servername: 'localhost', ALPNProtocols: ['h2'] },
      () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
        socket.end();
        resolve(fingerprint);
      },
    );
    socket.on('error', reject);
  });
}

const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Puts `from`'s certificate (and key, unless `keyFrom` says otherwise) at the paths the cache reads. */
async function install(live: { cert: string; key: string }, from: TestCertificates, keyFrom = from): Promise<void> {
  await copyFile(from.certFile, live.cert);
  await copyFile(keyFrom.keyFile, live.key);
}

describe('certificates are re-read on reload, without dropping connections', () => {
  let origin: TestOrigin;
  let cache: StartedCache;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let first: TestCertificates;
  let renewed: TestCertificates;
  let live: { cert: string; key: string };

  beforeAll(async () => {
    dir = await tempDir();
    first = await makeCertificates(dir.dir, { prefix: 'first' });
    renewed = await makeCertificates(dir.dir, { prefix: 'renewed' });
    await mkdir(path.join(dir.dir, 'live'));
    live = { cert: path.join(dir.dir, 'live', 'cert.pem'), key: path.join(dir.dir, 'live', 'key.pem') };
    await install(live, first);
    origin = await startTestOrigin({ '/p': fixed('payload', { 'cache-control': 'max-age=600' }) });
    cache = await startCache(origin.url, `${dir.dir}/cache`, { tlsCert: live.cert, tlsKey: live.key });
  });
  afterAll(async () => {
    await cache?.close();
    await origin?.close();
    await dir?.cleanup();
  });

  test('a renewed pair is served to new handshakes; an open HTTP/2 connection goes on; a bad pair changes nothing', async () => {
    const trust = [first.ca, renewed.ca];
    const url = cache.tlsUrl as string;
    expect(await servedFingerprint(url, trust)).toBe(fingerprintOf(first.cert));
    const session = await connectH2(url, first.ca);
    try {
      expect((await h2Request(session, '/p')).status).toBe(200);

      await install(live, renewed);
      const result = cache.live.reload();
      expect(result).toMatchObject({ ok: true });
      expect(await servedFingerprint(url, trust)).toBe(fingerprintOf(renewed.cert));
      // The connection made before the reload is still open and still answers.
      expect(session.closed || session.destroyed).toBe(false);
      expect((await h2Request(session, '/p')).body.toString()).toBe('payload');

      // A key that does not match its certificate: the reload fails, the renewed pair stays.
      await install(live, first, renewed);
      const failed = cache.live.reload();
      expect(failed).toMatchObject({ ok: false, code: 'CACHE_ERR_BAD_CERTIFICATE' });
      expect(await servedFingerprint(url, trust)).toBe(fingerprintOf(renewed.cert));
      // A key file gone (a renewal half done): the same.
      await rm(live.key);
      expect(cache.live.reload()).toMatchObject({ ok: false, code: 'CACHE_ERR_BAD_CERTIFICATE' });
      expect(await servedFingerprint(url, trust)).toBe(fingerprintOf(renewed.cert));
      expect((await h2Request(session, '/p')).status).toBe(200);
    } finally {
      await closeH2(session);
    }
  });

  test('start-up refuses a certificate it cannot use, naming the file', async () => {
    await expect(
      startCache(origin.url, `${dir.dir}/cache3`, { tlsCert: first.certFile, tlsKey: renewed.keyFile }),
    ).rejects.toMatchObject({ code: 'CACHE_ERR_BAD_CERTIFICATE', message: expect.stringContaining(first.certFile) });
    await expect(
      startCache(origin.url, `${dir.dir}/cache4`, { tlsCert: path.join(dir.dir, 'absent.pem'), tlsKey: first.keyFile }),
    ).rejects.toMatchObject({ code: 'CACHE_ERR_BAD_CERTIFICATE', message: expect.stringContaining('absent.pem') });
  });
});

describe('SIGHUP re-reads the certificate files of a running cache-server', () => {
  test('new handshakes get the renewed certificate; the process logs it once', async () => {
    const dir = await tempDir();
    const origin = await startTestOrigin({ '/': fixed('ok', { 'cache-control': 'max-age=60' }) });
    const first = await makeCertificates(dir.dir, { prefix: 'first' });
    const renewed = await makeCertificates(dir.dir, { prefix: 'renewed' });
    const live = { cert: path.join(dir.dir, 'cert.pem'), key: path.join(dir.dir, 'key.pem') };
    await install(live, first);
    const run = spawnCli(
      [
        '0',
        '--host',
        '127.0.0.1',
        '--origin',
        origin.url,
        '--tls-cert',
        live.cert,
        '--tls-key',
        live.key,
        '--tls-port',
        '0',
      ],
      { CACHE_DIR: path.join(dir.dir, 'cache') },
    );
    try {
      await run.listening();
      await waitFor(() => /"https":"https:\/\/127\.0\.0\.1:\d+\/"/.test(run.stdout()), 'the ready line');
      const url = (/"https":"(https:\/\/127\.0\.0\.1:\d+)\/"/.exec(run.stdout()) as RegExpExecArray)[1] as string;
      expect(await servedFingerprint(url, [first.ca, renewed.ca])).toBe(fingerprintOf(first.cert));
      await install(live, renewed);
      run.child.kill('SIGHUP');
      await waitFor(() => run.stdout().includes('TLS certificate re-read'), 'the certificates to be re-read');
      expect(await servedFingerprint(url, [first.ca, renewed.ca])).toBe(fingerprintOf(renewed.cert));
      expect(
        run
          .stdout()
          .split('\n')
          .filter((line) => line.includes('TLS certificate re-read')),
      ).toHaveLength(1);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
      await origin.close();
      await dir.cleanup();
    }
  });
});
