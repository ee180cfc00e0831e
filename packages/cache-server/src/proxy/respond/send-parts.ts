import { pipeline } from 'node:stream/promises';
import type { EntryMeta } from '@simple-cache/common';
import { combinedHeaders, evaluateClientConditional, locateRange, type PartEntry } from '../../policy/index.js';
import { openPieces, type Piece } from '../../store/partial-bodies.js';
import type { ByteRange } from '../../store/store.js';
import type { Exchange, ProxyDeps } from '../context.js';
import { storedHead, type StoredAs } from './heads.js';
import { planRange, type RangePlan } from './range-serving.js';
import { writeHead } from './write-head.js';

/**
 * Answers a GET's Range from stored parts (RFC 9111 §3.3): every byte it asks for is held by
 * fresh parts of one representation (route.ts). The head is the complete response's as
 * the newest part describes it (RFC 9111 §3.4: its fields, the complete length), cut to the
 * ranges as for a stored complete response: 206 with Content-Range, multipart/byteranges for
 * several ranges, 416 for none satisfiable. The client's own conditionals are evaluated first.
 * Returns 'unusable' when a part's body could not be opened and 'forward' for preconditions
 * only the origin may evaluate; then nothing was sent.
 */
export async function sendParts(
  exchange: Exchange,
  deps: ProxyDeps,
  held: readonly PartEntry[],
  as: StoredAs,
): Promise<'served' | 'unusable' | 'forward'> {
  const { res, view } = exchange;
  const complete = completeView(held[0] as PartEntry);
  const conditional = evaluateClientConditional(view, complete);
  if (conditional === 'forward') return 'forward';
  if (conditional === 'not-modified') {
    writeHead(exchange, storedHead(complete, as, { kind: 'not-modified' }, deps.heads));
    res.end();
    return 'served';
  }
  const plan = planRange(view, 200, complete, complete.size);
  const pieces = piecesOf(
    plan,
    held.map((entry) => entry.part),
  );
  if (pieces === undefined) return 'unusable';
  const head = storedHead(complete, as, plan, deps.heads);
  if (plan.kind === 'unsatisfiable') {
    writeHead(exchange, head);
    res.end();
    return 'served';
  }
  let body;
  try {
    body = await openPieces(deps.store, held, pieces);
  } catch (error) {
    exchange.log.warn({ err: error, key: exchange.key }, 'stored part unusable; fetching again');
    return 'unusable';
  }
  for (const piece of pieces) if ('segment' in piece) deps.store.markUsed(held[piece.segment.index] as EntryMeta);
  writeHead(exchange, head);
  try {
    await pipeline(body, res);
  } catch (error) {
    if (!res.destroyed || res.writableFinished) exchange.log.warn({ err: error }, 'stored part failed mid-stream');
    res.destroy();
  }
  return 'served';
}

/** The complete response the parts are of, as its newest part describes it: what heads and conditionals see. */
function completeView(newest: PartEntry): EntryMeta {
  const { part: _part, ...entry } = newest;
  return { ...entry, status: 200, headers: combinedHeaders(newest), size: newest.part.length };
}

/** The bytes of `plan`, part after part (with the multipart heads between them); undefined if not all held. */
function piecesOf(plan: RangePlan, parts: readonly PartEntry['part'][]): Piece[] | undefined {
  const ranges: { range: ByteRange; head: string }[] =
    plan.kind === 'single' ? [{ range: plan.range, head: '' }] : plan.kind === 'multipart' ? plan.layout.parts : [];
  if (plan.kind === 'whole') return undefined;
  const pieces: Piece[] = [];
  for (const { range, head } of ranges) {
    const segments = locateRange(parts, range);
    if (segments === undefined) return undefined;
    if (head !== '') pieces.push({ text: head });
    for (const segment of segments) pieces.push({ segment });
  }
  if (plan.kind === 'multipart') pieces.push({ text: plan.layout.tail });
  return pieces;
}
