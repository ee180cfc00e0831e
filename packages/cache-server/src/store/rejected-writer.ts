import { Writable } from 'node:stream';
import type { EntryWriter } from './store.js';
import type { StoreError } from './store-errors.js';

/**
 * A writer that is aborted from birth (store closed or degraded, body announced too large):
 * its body is destroyed without an error, so a tee drops it and no byte is copied, commit()
 * rejects with `error`, and `refused` names the reason at once.
 */
export function createRejectedWriter(error: StoreError): EntryWriter {
  const body = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  body.destroy();
  return { body, commit: () => Promise.reject(error), abort: () => undefined, refused: error.code };
}
