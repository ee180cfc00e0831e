import { mkdir, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { CacheServerConfig } from '@simple-cache/common';
import { SELF_SIGNED } from '../config/values.js';

/**
 * The TLS listener's certificate and key: read from the operator's PEM files, or, with
 * `--tls-cert self-signed`, generated for localhost at first start and kept under
 * `<cache-dir>/tls/` so that the browser exception a newcomer accepts lasts across restarts.
 */

/** A certificate chain and its key, as PEM, with what the log line says about them. */
export interface Certificates {
  cert: string;
  key: string;
  /** Where they came from (the file, or the generated pair's file). */
  source: string;
  /** The leaf certificate's subject, SHA-256 fingerprint and expiry, for the log. */
  subject: string;
  fingerprint: string;
  validTo: string;
}

/** Thrown for certificate files that cannot be read or do not make a usable pair. */
export class CertificateError extends Error {
  readonly code = 'CACHE_ERR_BAD_CERTIFICATE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateError';
  }
}

/** A generated certificate is made again once it has less than this left (ms). */
const RENEW_BEFORE_MS = 7 * 86_400_000;
/** How long a generated certificate is valid: long enough not to bother, short enough to be renewed now and then. */
const SELF_SIGNED_DAYS = 90;

type TlsFiles = Pick<CacheServerConfig, 'tlsCert' | 'tlsKey' | 'cacheDir'>;

/** The files a self-signed pair is kept in. */
export function selfSignedPaths(cacheDir: string): { cert: string; key: string } {
  const dir = path.join(cacheDir, 'tls');
  return { cert: path.join(dir, 'self-signed-cert.pem'), key: path.join(dir, 'self-signed-key.pem') };
}

/**
 * At start-up: the operator's files, or the self-signed pair (made now when missing, unreadable
 * or about to expire). Throws CertificateError naming the file.
 */
export async function loadCertificates(config: TlsFiles, now = Date.now()): Promise<Certificates> {
  if (config.tlsCert !== SELF_SIGNED) return readCertificates(config.tlsCert, config.tlsKey);
  const files = selfSignedPaths(config.cacheDir);
  try {
    const kept = readCertificates(files.cert, files.key);
    if (Date.parse(kept.validTo) - now > RENEW_BEFORE_MS) return kept;
  } catch {
    // none yet (first start), or unusable: made again below
  }
  await writeSelfSigned(files, now);
  return readCertificates(files.cert, files.key);
}

/**
 * On reload: the same files read again (a renewed certificate, certbot-style). Synchronous, so the
 * reload can refuse a bad pair before anything changes. Never generates.
 */
export function reloadCertificates(config: TlsFiles): Certificates {
  const files = config.tlsCert === SELF_SIGNED ? selfSignedPaths(config.cacheDir) : undefined;
  return files ? readCertificates(files.cert, files.key) : readCertificates(config.tlsCert, config.tlsKey);
}

/**
 * The secure context options for `certificates`. Building the context here proves the key
 * matches the certificate (OpenSSL refuses a mismatch), before the listener uses it.
 */
export function contextOptions(certificates: Certificates): SecureContextOptions {
  const options: SecureContextOptions = { cert: certificates.cert, key: certificates.key };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new CertificateError(`${certificates.source}: ${(error as Error).message}`, { cause: error });
  }
  return options;
}

function readCertificates(certFile: string, keyFile: string): Certificates {
  const cert = readPem(certFile, 'CERTIFICATE');
  const key = readPem(keyFile, 'PRIVATE KEY');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new CertificateError(`${certFile}: not a PEM certificate (${(error as Error).message})`, { cause: error });
  }
  return {
    cert,
    key,
    source: certFile,
    subject: leaf.subject.replace(/\n/g, ', '),
    fingerprint: leaf.fingerprint256,
    validTo: new Date(leaf.validTo).toISOString(),
  };
}

function readPem(file: string, label: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new CertificateError(`${file}: cannot be read (${code})`, { cause: error });
  }
  // "PRIVATE KEY" also matches RSA/EC/ENCRYPTED PRIVATE KEY blocks.
  if (!text.includes('-----BEGIN ') || !text.includes(`${label}-----`)) {
    throw new CertificateError(`${file}: no PEM ${label} block in it`);
  }
  return text;
}

/**
 * A certificate for localhost, 127.0.0.1 and ::1 (EC P-256, SHA-256), made with `selfsigned`
 * (pure JavaScript on WebCrypto: a machine with only Node has no openssl binary to run). Written
 * to temporary files and renamed, so a crash never leaves half a pair; the key is readable by
 * its owner only.
 */
async function writeSelfSigned(files: { cert: string; key: string }, now: number): Promise<void> {
  const { generate } = await import('selfsigned');
  const notBeforeDate = new Date(now - 60_000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(now + SELF_SIGNED_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  await mkdir(path.dirname(files.cert), { recursive: true, mode: 0o700 });
  await writeFile(`${files.key}.tmp`, pems.private, { mode: 0o600 });
  await writeFile(`${files.cert}.tmp`, pems.cert, { mode: 0o644 });
  await rename(`${files.key}.tmp`, files.key);
  await rename(`${files.cert}.tmp`, files.cert);
}
