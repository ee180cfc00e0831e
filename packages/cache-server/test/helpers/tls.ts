import { afterAll, beforeAll } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { CacheServerConfig } from '@simple-cache/common';
import { startCache, tempDir, type StartedCache } from './cache.js';
import { startTestOrigin, type Route, type TestOrigin } from './test-origin.js';

/** A test CA and a certificate it signed, as PEM and as files in `dir`. */
export interface TestCertificates {
  /** The CA certificate clients trust (`ca` option, --origin-ca). */
  ca: string;
  caFile: string;
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

const DAY_MS = 86_400_000;

/**
 * Makes a CA and a certificate it signs for `names` (DNS) and `ips`, in `dir` under `prefix`-*.pem.
 * EC P-256 keys: made in milliseconds, where RSA takes seconds in JavaScript.
 */
export async function makeCertificates(
  dir: string,
  options: { prefix?: string; names?: string[]; ips?: string[]; clientAuth?: boolean } = {},
): Promise<TestCertificates> {
  const { prefix = 'server', names = ['localhost'], ips = ['127.0.0.1', '::1'] } = options;
  const now = Date.now();
  const validity = { notBeforeDate: new Date(now - DAY_MS), notAfterDate: new Date(now + 30 * DAY_MS) };
  const ca = await generate([{ name: 'commonName', value: `${prefix} test CA` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...validity,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: options.clientAuth ?? false },
      {
        name: 'subjectAltName',
        altNames: [
          ...names.map((value) => ({ type: 2 as const, value })),
          ...ips.map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  const files = {
    caFile: path.join(dir, `${prefix}-ca.pem`),
    certFile: path.join(dir, `${prefix}-cert.pem`),
    keyFile: path.join(dir, `${prefix}-key.pem`),
  };
  await writeFile(files.caFile, ca.cert);
  await writeFile(files.certFile, leaf.cert);
  await writeFile(files.keyFile, leaf.private, { mode: 0o600 });
  return { ca: ca.cert, cert: leaf.cert, key: leaf.private, ...files };
}

/**
 * One origin and one cache with a TLS listener (a certificate from a test CA) for a describe
 * block, started in beforeAll and stopped after the block; `certs.ca` is what clients trust.
 */
export function useTlsOriginAndCache(
  routes: Record<string, Route>,
  extra: Partial<CacheServerConfig> = {},
): {
  readonly origin: TestOrigin;
  readonly cache: StartedCache;
  readonly certs: TestCertificates;
  readonly dir: string;
} {
  let started: { origin: TestOrigin; cache: StartedCache; certs: TestCertificates; dir: string } | undefined;
  let temp: Awaited<ReturnType<typeof tempDir>> | undefined;
  beforeAll(async () => {
    temp = await tempDir();
    const certs = await makeCertificates(temp.dir);
    const origin = await startTestOrigin(routes);
    const cache = await startCache(origin.url, `${temp.dir}/cache`, {
      tlsCert: certs.certFile,
      tlsKey: certs.keyFile,
      ...extra,
    });
    started = { origin, cache, certs, dir: temp.dir };
  });
  afterAll(async () => {
    await started?.cache.close();
    await started?.origin.close();
    await temp?.cleanup();
  });
  const get = () => {
    if (!started) throw new Error('the servers start in beforeAll');
    return started;
  };
  return {
    get origin() {
      return get().origin;
    },
    get cache() {
      return get().cache;
    },
    get certs() {
      return get().certs;
    },
    get dir() {
      return get().dir;
    },
  };
}
