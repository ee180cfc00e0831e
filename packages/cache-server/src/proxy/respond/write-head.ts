import type { Exchange } from '../context.js';
import { noteHead } from '../outcome.js';
import type { Head } from './heads.js';
import { headersForClient } from './protocol.js';

/** Sends `head` and notes on the exchange's Outcome what it says: nobody reads headers back. */
export function writeHead(exchange: Exchange, head: Head): void {
  const { res } = exchange;
  res.writeHead(head.status, headersForClient(res, head.headers) as Record<string, string>);
  noteHead(exchange.outcome, head);
}
