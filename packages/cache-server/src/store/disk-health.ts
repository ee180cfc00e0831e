import type { Logger } from 'pino';
import type { StoreHealth } from './store.js';

/**
 * Error codes that mean "this disk cannot take writes right now" (full, over quota, read-only,
 * failing, out of descriptors, a directory replaced by something else) rather than a bug or a
 * single bad response. Any of them, from any write, puts the store into degraded mode.
 */
const DISK_TROUBLE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'ENOTDIR', 'EMFILE', 'ENFILE']);

export function isDiskTrouble(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && DISK_TROUBLE.has(code);
}

export interface DiskHealthOptions {
  logger: Logger;
  now(): number;
  /** Wait before the first retry; doubles after every failed retry, up to `maxRetryDelay`. */
  retryDelay: number;
  maxRetryDelay: number;
  /** Named in the log lines, so the operator knows where to look. */
  dir: string;
}

/**
 * Whether the disk store can write, with one log line per change of state instead of one per
 * request. Degraded mode: writes are refused up front (the proxy then just passes responses
 * through); once per retry interval one write is let through as a probe, and the first write
 * that succeeds ends degraded mode. Reads never depend on it: a full or read-only disk still
 * serves what it holds.
 */
export class DiskHealth {
  private degraded: { since: number; code: string; message: string } | undefined;
  private retryAt = 0;
  private delay: number;

  constructor(private readonly options: DiskHealthOptions) {
    this.delay = options.retryDelay;
  }

  get isDegraded(): boolean {
    return this.degraded !== undefined;
  }

  /** May a write start now? While degraded only one per retry interval does: the probe. */
  allowsWrite(): boolean {
    if (this.degraded === undefined) return true;
    const now = this.options.now();
    if (now < this.retryAt) return false;
    this.retryAt = now + this.delay;
    return true;
  }

  /** Records a failed write; returns false (and changes nothing) for errors that are not disk trouble. */
  noteFailure(err: unknown): boolean {
    if (!isDiskTrouble(err)) return false;
    const { logger, now, dir, maxRetryDelay } = this.options;
    if (this.degraded === undefined) {
      const { code, message } = err as { code: string; message?: string };
      this.degraded = { since: now(), code, message: message ?? code };
      this.delay = this.options.retryDelay;
      logger.error(
        { err, dir, code, retryInMs: this.delay },
        `the cache directory cannot be written (${code}); responses are passed through without being stored until it can`,
      );
    } else {
      this.delay = Math.min(this.delay * 2, maxRetryDelay);
    }
    this.retryAt = now() + this.delay;
    return true;
  }

  /** A write reached the disk: ends degraded mode, if it was on. */
  noteSuccess(): void {
    if (this.degraded === undefined) return;
    const { since, code } = this.degraded;
    this.degraded = undefined;
    this.delay = this.options.retryDelay;
    this.options.logger.info(
      { dir: this.options.dir, code, degradedForMs: this.options.now() - since },
      'the cache directory is writable again; storing resumed',
    );
  }

  snapshot(): StoreHealth {
    if (this.degraded === undefined) return { state: 'ok' };
    const { since, code, message } = this.degraded;
    return { state: 'degraded', since, code, message };
  }
}
