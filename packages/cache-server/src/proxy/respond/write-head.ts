import type { HeaderMap } from '@simple-cache/common';
import type { Exchange } from '../context.js';
import { noteHead } from '../outcome.js';
import type { Head } from './heads.js';
import { headersForClient, resetWhenCutShort } from './protocol.js';

/** Sends `head` and notes on the exchange's Outcome what it says: nobody reads headers back. */
export function writeHead(exchange: Exchange, head: Head): void {
  const { res } = exchange;
  try {
    res.writeHead(head.status, headersForClient(res, head.headers) as Record<string, string>);
  } catch (error) {
    // A head the client's protocol refuses (FINDINGS F18): Node keeps the fields it was given, so
    // they go, or the error answer the caller sends next would carry them and fail the same way.
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    throw error;
  }
  resetWhenCutShort(res);
  noteHead(exchange.outcome, head);
}

/** A head as writeHead's flat [name, value, …] list, which Node need not walk as an object. */
export function flatHeaders(headers: HeaderMap): string[] {
  const flat: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) flat.push(name, item);
    else flat.push(name, value);
  }
  return flat;
}
