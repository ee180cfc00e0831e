import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { HeaderMap } from '@simple-cache/common';
import { acceptsCoding, codingsApplied, isDecodable, type RequestView } from '../../policy/index.js';

/**
 * A stored (or arriving) body whose content coding the client does not accept, decoded on the
 * fly as Varnish gunzips: the origin compressed it without varying on Accept-Encoding, so the
 * one stored copy serves every client. The length is not known before the end (chunked over
 * HTTP/1.1, DATA frames over HTTP/2), so a Range is answered with the whole decoded body (RFC
 * 9110 §14.2 lets a server ignore Range) and Accept-Ranges is not offered.
 */

/** Whether a body in `contentEncoding` must be decoded for this client (it does not take it, and we can). */
export function needsDecoding(view: RequestView, contentEncoding: HeaderMap[string]): boolean {
  const coding = Array.isArray(contentEncoding) ? contentEncoding.join(', ') : contentEncoding;
  return coding !== undefined && !acceptsCoding(view.headers, coding) && isDecodable(coding);
}

/** The zlib stream undoing `contentEncoding` (one of gzip, x-gzip, br, deflate: policy isDecodable). */
export function decoderFor(contentEncoding: string): Transform {
  const [coding] = codingsApplied(contentEncoding);
  if (coding === 'br') return createBrotliDecompress();
  if (coding === 'deflate') return createInflate();
  return createGunzip();
}

/** `body` read through its decoder; an error on either side ends both. */
export function decodeStream(body: Readable, contentEncoding: string): Readable {
  const decoder = decoderFor(contentEncoding);
  body.once('error', (error) => decoder.destroy(error));
  decoder.once('close', () => body.destroy());
  return body.pipe(decoder);
}
