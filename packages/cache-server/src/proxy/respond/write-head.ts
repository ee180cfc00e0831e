import type { Exchange } from '../context.js';
import { noteHead } from '../outcome.js';
import type { Head } from './heads.js';
import { headersForClient, resetWhenCutShort } from './protocol.js';

/** Sends `head` and notes on the exchange's Outcome what it says: nobody reads headers back. */
export function writeHead(exchange: Exchange, head: Head): void {
  const { res } = exchange;
  res.writeHead(head.status, headersForClient(res, head.headers) as Record<string, string>);
  resetWhenCutShort(res);
  noteHead(exchange.outcome, head);
}
