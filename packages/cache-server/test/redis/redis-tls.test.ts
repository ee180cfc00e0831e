// @system-packages redis-server openssl
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TlsSettings } from '../../src/store/redis/redis-connection.js';
import { startCache, tempDir } from '../helpers/cache.js';
import { request, waitFor } from '../helpers/http.js';
import { findFreePort, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { fixed, startTestOrigin } from '../helpers/test-origin.js';
import { makeMeta, readBody, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

/**
 * rediss:// to a redis-server that speaks only TLS on its TLS port, with a certificate from a
 * private CA for the name redis.test (not the address connected to), and that asks every client
 * for a certificate of that CA (tls-auth-clients yes). The certificates are made here by openssl.
 */
const run = promisify(execFile);

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: RedisServer;
let url: string;
let files: { ca: string; cert: string; key: string };
let tls: Required<TlsSettings>;

async function makeCertificate(name: string, cn: string, ca?: string): Promise<void> {
  const at = (file: string) => path.join(dir.dir, file);
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', at(`${name}.key`)];
  if (ca === undefined) {
    await run('openssl', ['req', '-x509', ...key, '-out', at(`${name}.pem`), '-days', '1', '-subj', `/CN=${cn}`]);
    return;
  }
  await run('openssl', ['req', ...key, '-out', at(`${name}.csr`), '-subj', `/CN=${cn}`]);
  await run('openssl', [
    ...['x509', '-req', '-in', at(`${name}.csr`), '-CA', at(`${ca}.pem`), '-CAkey', at(`${ca}.key`)],
    ...['-CAcreateserial', '-out', at(`${name}.pem`), '-days', '1', '-extfile', at('san.cnf')],
  ]);
}

beforeAll(async () => {
  dir = await tempDir();
  await writeFile(path.join(dir.dir, 'san.cnf'), 'subjectAltName=DNS:redis.test\n');
  await makeCertificate('ca', 'simple-cache test CA');
  await makeCertificate('server', 'redis.test', 'ca');
  await makeCertificate('client', 'cache-node', 'ca');
  const at = (file: string) => path.join(dir.dir, file);
  const tlsPort = await findFreePort();
  server = await startRedisServer([
    ...['--tls-port', String(tlsPort), '--tls-cert-file', at('server.pem'), '--tls-key-file', at('server.key')],
    ...['--tls-ca-cert-file', at('ca.pem'), '--tls-auth-clients', 'yes'],
  ]);
  url = `rediss://127.0.0.1:${tlsPort}`;
  files = { ca: at('ca.pem'), cert: at('client.pem'), key: at('client.key') };
  tls = {
    ca: await readFile(files.ca),
    cert: await readFile(files.cert),
    key: await readFile(files.key),
    servername: 'redis.test',
  };
}, 60_000);
afterAll(async () => {
  await server?.cleanup();
  await dir?.cleanup();
});

describe('rediss:// with a CA, a client certificate and a servername', () => {
  test('all three given: the store works over TLS', async () => {
    const store = await openRedisStore({ url }, { connection: { tls } });
    try {
      const entry = await writeEntry(store, makeMeta('http://origin.test/tls'), 'over TLS');
      expect((await readBody(store, entry)).toString()).toBe('over TLS');
      expect(store.health()).toEqual({ state: 'ok' });
    } finally {
      await store.close();
    }
  });

  test.each<[string, (full: Required<TlsSettings>) => TlsSettings]>([
    ['without the client certificate', ({ ca, servername }) => ({ ca, servername })],
    ['without the CA (only the system’s)', ({ cert, key, servername }) => ({ cert, key, servername })],
    ['with another servername', (full) => ({ ...full, servername: 'other.test' })],
  ])('%s: no connection, the store is degraded and fails fast', async (_label, pick) => {
    const store = await openRedisStore({ url }, { connection: { tls: pick(tls) } });
    try {
      await waitFor(() => store.health().state === 'degraded', 'the refused connection to open the breaker');
      await expect(store.lookup('http://origin.test/tls')).rejects.toMatchObject({
        code: 'CACHE_ERR_STORE_UNAVAILABLE',
      });
    } finally {
      await store.close();
    }
  });

  test('a TLS file that cannot be read stops start-up, naming the option', async () => {
    const origin = await startTestOrigin({});
    const cacheDir = await tempDir();
    try {
      await expect(
        startCache(origin.url, cacheDir.dir, { store: url, redisTlsCert: path.join(cacheDir.dir, 'missing.pem') }),
      ).rejects.toThrow(/--redis-tls-cert: cannot read .*missing\.pem \(ENOENT\)/);
    } finally {
      await origin.close();
      await cacheDir.cleanup();
    }
  });

  test('TLS options with a plain redis:// URL are refused at start-up', async () => {
    await expect(openRedisStore({ url: server.url }, { connection: { tls } })).rejects.toThrow(/need a rediss:\/\//);
  });

  test('the server takes the files from its options (--redis-tls-ca, -cert, -key, -servername)', async () => {
    const origin = await startTestOrigin({ '/page': fixed('through TLS', { 'cache-control': 'max-age=60' }) });
    const cacheDir = await tempDir();
    const cache = await startCache(origin.url, cacheDir.dir, {
      store: url,
      redisTlsCa: files.ca,
      redisTlsCert: files.cert,
      redisTlsKey: files.key,
      redisTlsServername: 'redis.test',
    });
    try {
      expect((await request(cache.url, '/page')).headers['x-cache']).toBe('MISS');
      await waitFor(async () => (await cache.store.lookup(`${origin.url}/page`)).length > 0, 'the commit');
      const hit = await request(cache.url, '/page');
      expect([hit.headers['x-cache'], hit.body.toString()]).toEqual(['HIT', 'through TLS']);
    } finally {
      await cache.close();
      await origin.close();
      await cacheDir.cleanup();
    }
  });
});
