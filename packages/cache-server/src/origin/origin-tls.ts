import { readFileSync } from 'node:fs';
import type { CacheServerConfig } from '@simple-cache/common';

/** What the origin client's TLS connections use (node:tls options), for an https origin. */
export interface OriginTlsOptions {
  /** Trusted CA certificates instead of Node's bundled ones (--origin-ca). */
  ca?: string;
  /** SNI and the name the certificate must carry (--origin-servername). */
  servername?: string;
  /** The client certificate and key an origin asking for one gets (--origin-cert, --origin-key). */
  cert?: string;
  key?: string;
  /** false only with --origin-insecure. */
  rejectUnauthorized: boolean;
}

/** Thrown at start-up for an --origin-* file that cannot be read. */
export class OriginTlsError extends Error {
  readonly code = 'CACHE_ERR_BAD_CERTIFICATE';
}

/**
 * The origin's TLS options from the config, files read once at start-up (a change needs a
 * restart, as any origin option does). Without an https origin, none apply.
 */
export function originTlsOptions(
  config: Pick<CacheServerConfig, 'originCa' | 'originServername' | 'originCert' | 'originKey' | 'originInsecure'>,
): OriginTlsOptions {
  return {
    ...(config.originCa !== '' ? { ca: readPem(config.originCa, '--origin-ca') } : {}),
    ...(config.originServername !== '' ? { servername: config.originServername } : {}),
    ...(config.originCert !== '' ? { cert: readPem(config.originCert, '--origin-cert') } : {}),
    ...(config.originKey !== '' ? { key: readPem(config.originKey, '--origin-key') } : {}),
    rejectUnauthorized: !config.originInsecure,
  };
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new OriginTlsError(`${flag} ${file}: cannot be read (${(error as { code?: string }).code ?? 'unreadable'})`, {
      cause: error,
    });
  }
}
