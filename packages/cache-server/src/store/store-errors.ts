/**
 * Errors the store rejects with. Callers (and tests) branch on `code`, never on the message.
 * The codes follow the CACHE_ERR_… scheme of the server's error catalogue.
 */
export const STORE_ERROR_CODES = {
  /** The body on disk does not match its metadata (length or checksum); the entry was deleted. */
  corruptEntry: 'CACHE_ERR_CORRUPT_ENTRY',
  /** The entry's body no longer exists (deleted, replaced, evicted); a current entry was deleted. */
  entryGone: 'CACHE_ERR_ENTRY_GONE',
  /** commit(): the body had a different length than the `size` announced in beginWrite. */
  sizeMismatch: 'CACHE_ERR_SIZE_MISMATCH',
  /** commit(): the body is larger than the whole store may hold. */
  entryTooLarge: 'CACHE_ERR_ENTRY_TOO_LARGE',
  /** commit(): the write was aborted (abort(), body destroyed, or the store closed first). */
  writeAborted: 'CACHE_ERR_WRITE_ABORTED',
  /** openBody(): the range is not inside the body. */
  badRange: 'CACHE_ERR_BAD_RANGE',
  /** commit(): refused without trying, because the disk recently failed (degraded mode). */
  storeDegraded: 'CACHE_ERR_STORE_DEGRADED',
  /**
   * The service behind the store (Redis) is unreachable or does not answer in time; nothing was
   * read or changed by this call. Retry later (the store serves from memory meanwhile).
   */
  storeUnavailable: 'CACHE_ERR_STORE_UNAVAILABLE',
  /** The store was closed. */
  storeClosed: 'CACHE_ERR_STORE_CLOSED',
} as const;

export type StoreErrorCode = (typeof STORE_ERROR_CODES)[keyof typeof STORE_ERROR_CODES];

export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
