import type { IncomingMessage } from 'node:http';
import { contentLengthOf } from '../proxy/respond/heads.js';

/** Most request-body bytes an admin call may carry (no endpoint reads one; nginx's default is 1 MiB too). */
export const MAX_ADMIN_BODY = 1024 * 1024;

export class AdminBodyTooLarge extends Error {
  constructor() {
    super(`admin request body over ${MAX_ADMIN_BODY} bytes`);
  }
}

/** Whether the request announces a body (HTTP/1.1 framing fields; HTTP/2 sends content-length when it knows). */
export function announcesBody(raw: IncomingMessage): boolean {
  return raw.headers['transfer-encoding'] !== undefined || (contentLengthOf(raw.headers) ?? 0) > 0;
}

/**
 * The request body, read whole before the endpoint answers (as nginx reads one before handing a
 * request on), at most MAX_ADMIN_BODY bytes: an announced larger one is refused before a byte is
 * read, and a chunked one as soon as it passes the bound, so that a purge with 500 MB behind it
 * costs nothing. Undefined when there is none.
 */
export function readAdminBody(raw: IncomingMessage): Promise<Buffer | undefined> {
  if (!announcesBody(raw)) return Promise.resolve(undefined);
  if ((contentLengthOf(raw.headers) ?? 0) > MAX_ADMIN_BODY) return Promise.reject(new AdminBodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ADMIN_BODY) return void chunks.push(chunk);
      // Stop reading, without destroying the request: the 413 must still be written, then the
      // connection closes (the caller says Connection: close).
      raw.pause();
      done();
      reject(new AdminBodyTooLarge());
    };
    const onEnd = () => {
      done();
      resolve(size === 0 ? undefined : Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    function done(): void {
      raw.off('data', onData).off('end', onEnd).off('error', onError);
    }
    raw.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
