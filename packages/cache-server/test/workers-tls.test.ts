import { describe, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { fixed, startTestOrigin } from './helpers/test-origin.js';
import { startWorkersCli } from './helpers/workers.js';
import { selfSignedPaths } from '../src/listen/certificates.js';

/** A port free now (the TLS port of a cluster is given, not 0: the test must know it). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The certificate a new handshake is shown, or undefined while nothing listens yet. */
function servedFingerprint(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256);
      socket.end();
    });
    socket.on('error', () => resolve(undefined));
  });
}

describe('--workers 2 --tls-cert self-signed', () => {
  test('the primary makes one pair before the workers start: every worker serves it', async () => {
    const dir = await tempDir();
    const origin = await startTestOrigin({ '/': fixed('ok', { 'cache-control': 'max-age=60' }) });
    const tlsPort = await freePort();
    const cli = await startWorkersCli([
      '--origin',
      origin.url,
      '--cache-dir',
      dir.dir,
      '--tls-cert',
      'self-signed',
      '--tls-port',
      String(tlsPort),
    ]);
    try {
      await waitFor(async () => (await servedFingerprint(tlsPort)) !== undefined, 'the TLS port');
      const kept = new X509Certificate(await readFile(selfSignedPaths(dir.dir).cert)).fingerprint256;
      // New connections go to whichever worker accepts first: 30 of them reach both.
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 30; i++) seen.add(await servedFingerprint(tlsPort));
      expect([...seen]).toEqual([kept]);
    } finally {
      expect(await cli.stop()).toBe(0);
      await origin.close();
      await dir.cleanup();
    }
  }, 60_000);
});
