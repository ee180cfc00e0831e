import { Readable } from 'node:stream';
import type { ByteRange } from './store.js';
import { StoreError } from './store-errors.js';

/** The whole body when no range is asked; CACHE_ERR_BAD_RANGE when it is not inside. */
export function resolveRange(size: number, range: ByteRange | undefined): ByteRange {
  if (range === undefined) return { start: 0, end: size - 1 };
  const { start, end } = range;
  const valid = Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end < size;
  if (!valid) throw new StoreError('CACHE_ERR_BAD_RANGE', `range ${start}-${end} is outside a body of ${size} bytes`);
  return range;
}

/** A byte stream (not object mode, unlike Readable.from) over one buffer. */
export function readableOf(body: Buffer): Readable {
  return new Readable({
    read() {
      if (body.length > 0) this.push(body);
      this.push(null);
    },
  });
}
