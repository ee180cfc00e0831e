import type { IncomingMessage } from 'node:http';
import type { CacheStatusInfo } from '@simple-cache/common';
import { escapeWord, jsonString, quotedField, thousandths, timeLocal, type AccessRecord } from './access-line.js';
import { clientAddressOf } from './client-address.js';
import { requestIdHead, requestIdOrNumber } from './logger.js';

/**
 * A fast hit's access line (issue 17: logging every hit costs at most 5 % of a 1 KiB hit), written
 * as bytes straight into the access log's batch. The line is the one access-line.ts writes, byte
 * for byte (test/access-fast-line.test.ts holds them to it), made differently: of a fast hit's
 * fields only the time, duration, request id and client change from one hit on a stored response
 * to the next; method, path, status, bytes, X-Cache, forward reason and rule are encoded once,
 * into a fragment kept for the Outcome's `cacheStatus`, an object the fast path makes once per
 * stored response and second (proxy/fast-hit.ts). The string of ~20 pieces a general line is
 * built from, flattened and encoded at each batch (in the server's profile ~0.9 µs of a ~19 µs
 * hit), is not made; numbers are written as digits, the request id without its string. On its
 * own, with its write(2): ~0.28 µs a line where the general formatter takes ~0.57 µs.
 */

/** What a writer returns when the line is not a fast hit's (the general formatter writes it). */
export const NOT_FAST = -1;
/** What a writer returns when the line does not fit in what is left of the batch (nothing taken). */
export const NO_ROOM = -2;

/**
 * Writes `record`'s line into `into` from `at`; returns where it ends, NOT_FAST or NO_ROOM.
 * The request id is taken only when the line is written.
 */
export type FastLineWriter = (record: AccessRecord, req: IncomingMessage, into: Buffer, at: number) => number;

/** What makes the fragment: a record whose fields differ needs another (GET then HEAD on one entry). */
interface Fragment {
  cacheStatus: CacheStatusInfo;
  method: string;
  target: string;
  status: number;
  bytes: number;
  xCache: string;
  rule: string;
  httpVersion: string;
  /** JSON: from `","method":` to `,"ms":`. combined: from the method to the referer's opening quote. */
  head: Buffer;
  /** combined: from the user agent's closing quote to the request time. */
  tail: Buffer;
}

/** Bytes the variable parts can take at most, besides the fragment, address, id and quoted fields. */
const SPARE = 256;

/**
 * A fast hit: its line has no origin time, error or abort (the fast path answers nothing else;
 * checked, so that a record that says otherwise takes the general formatter).
 */
function isFastHit(record: AccessRecord): boolean {
  return record.route === 'fast-hit' && record.originMs === undefined && record.errorCode === '' && !record.aborted;
}

/** The fragments, one per `cacheStatus` object (the last one first: a hot entry's hits follow each other). */
function fragments(build: (record: AccessRecord, httpVersion: string) => Fragment) {
  const kept = new WeakMap<CacheStatusInfo, Fragment>();
  let last: Fragment | undefined;
  return (record: AccessRecord, httpVersion: string): Fragment => {
    const { cacheStatus } = record;
    let fragment = last?.cacheStatus === cacheStatus ? last : kept.get(cacheStatus);
    if (
      fragment === undefined ||
      fragment.target !== record.target ||
      fragment.method !== record.method ||
      fragment.status !== record.status ||
      fragment.bytes !== record.bytes ||
      fragment.xCache !== record.xCache ||
      fragment.rule !== record.rule ||
      fragment.httpVersion !== httpVersion
    ) {
      fragment = build(record, httpVersion);
      kept.set(cacheStatus, fragment);
    }
    last = fragment;
    return fragment;
  };
}

const JSON_CLIENT = Buffer.from('","client":"');

/** jsonLine (access-line.ts) for fast hits. */
export function fastJsonWriter(pathOf: (target: string) => string): FastLineWriter {
  const fragmentFor = fragments((record, httpVersion) => {
    const { cacheStatus } = record;
    let head =
      `","method":${jsonString(record.method)},"path":${jsonString(pathOf(record.target))},` +
      `"status":${record.status},"bytes":${record.bytes},"cache":"${record.xCache}"`;
    if (cacheStatus.fwd !== undefined) head += `,"fwd":"${cacheStatus.fwd}"`;
    if (record.rule !== '') head += `,"rule":${jsonString(record.rule)}`;
    return fragmentOf(record, httpVersion, Buffer.from(`${head},"ms":`), EMPTY);
  });
  return (record, req, into, at) => {
    if (!isFastHit(record)) return NOT_FAST;
    const fragment = fragmentFor(record, '');
    const address = addressBytes(clientAddressOf(req) ?? '');
    if (at + fragment.head.length + address.length + SPARE > into.length) return NO_ROOM;
    at = put(into, at, jsonStartBytes(record.startedAt));
    at = putRequestId(into, at, req);
    at = put(into, at, JSON_CLIENT);
    at = put(into, at, address);
    at = put(into, at, fragment.head);
    at = putThousandths(into, at, record.durationMs * 1000);
    into[at] = 0x7d; // }
    into[at + 1] = 0x0a;
    return at + 2;
  };
}

const DASH = Buffer.from('-');
const EMPTY: Buffer = Buffer.alloc(0);

/** combinedLine (access-line.ts) for fast hits. */
export function fastCombinedWriter(pathOf: (target: string) => string): FastLineWriter {
  const fragmentFor = fragments((record, httpVersion) => {
    const status = record.status === 0 ? 499 : record.status;
    const rule = record.rule === '' ? '-' : escapeWord(record.rule);
    return fragmentOf(
      record,
      httpVersion,
      Buffer.from(
        `${escapeWord(record.method)} ${escapeWord(pathOf(record.target))} HTTP/${httpVersion}" ${status} ${record.bytes} "`,
      ),
      Buffer.from(`" ${record.xCache || '-'} ${record.cacheStatus.fwd ?? '-'} ${rule} `),
    );
  });
  const referers = new QuotedFields();
  const agents = new QuotedFields();
  return (record, req, into, at) => {
    if (!isFastHit(record)) return NOT_FAST;
    const fragment = fragmentFor(record, req.httpVersion);
    const address = clientAddressOf(req);
    const addressOrDash = address === undefined ? DASH : addressBytes(address);
    // HTTP/1: from the field lines as received; `req.headers` is built on first access, which a fast hit never needs.
    const http1 = req.httpVersionMajor === 1;
    const referer = referers.bytesOf(http1 ? firstField(req.rawHeaders, 'referer') : req.headers.referer);
    const agent = agents.bytesOf(http1 ? firstField(req.rawHeaders, 'user-agent') : req.headers['user-agent']);
    const length = fragment.head.length + fragment.tail.length + addressOrDash.length + referer.length + agent.length;
    if (at + length + SPARE > into.length) return NO_ROOM;
    at = put(into, at, addressOrDash);
    at = put(into, at, timeLocalBytes(record.startedAt));
    at = put(into, at, fragment.head);
    at = put(into, at, referer);
    at = putThree(into, at, 0x22, 0x20, 0x22); // `" "`
    at = put(into, at, agent);
    at = put(into, at, fragment.tail);
    at = putThousandths(into, at, record.durationMs);
    at = putThree(into, at, 0x20, 0x2d, 0x20); // ` - `: no origin time
    at = putRequestId(into, at, req);
    into[at] = 0x0a;
    return at + 1;
  };
}

/**
 * One object literal, never `{ ...key, head, tail }`: V8 (Node 20) gives each object that optimised
 * code builds by spreading a hidden class of its own, so the writer, reading the fragment made
 * each second, was deoptimised and recompiled about once a second (with the fast hit it is
 * inlined into: tens of ms of compiling on the server's core each time).
 */
function fragmentOf(record: AccessRecord, httpVersion: string, head: Buffer, tail: Buffer): Fragment {
  const { cacheStatus, method, target, status, bytes, xCache, rule } = record;
  return { cacheStatus, method, target, status, bytes, xCache, rule, httpVersion, head, tail };
}

/** Three bytes, without a call into TypedArray.prototype.set. */
function putThree(into: Buffer, at: number, a: number, b: number, c: number): number {
  into[at] = a;
  into[at + 1] = b;
  into[at + 2] = c;
  return at + 3;
}

function put(into: Buffer, at: number, bytes: Buffer): number {
  into.set(bytes, at);
  return at + bytes.length;
}

/**
 * The value `req.headers[name]` would give for a field whose repeats Node drops (Referer,
 * User-Agent: the first one), read from the field lines as received, in any case.
 */
export function firstField(rawHeaders: readonly string[], name: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const field = rawHeaders[i] as string;
    if (field.length === name.length && (field === name || field.toLowerCase() === name)) return rawHeaders[i + 1];
  }
  return undefined;
}

/** A quoted field (referer, user agent) as bytes, remembered: a client sends the same one request after request. */
class QuotedFields {
  private value: string | undefined = undefined;
  private bytes = Buffer.from('-');

  bytesOf(value: string | undefined): Buffer {
    if (value !== this.value) {
      this.value = value;
      this.bytes = Buffer.from(quotedField(value));
    }
    return this.bytes;
  }
}

/** Client addresses as bytes: few, and each connection's many requests give the same one. */
const addresses = new Map<string, Buffer>();
const MAX_ADDRESSES = 4096;
let lastAddress = '';
let lastAddressBytes = EMPTY;

function addressBytes(address: string): Buffer {
  if (address === lastAddress) return lastAddressBytes;
  let bytes = addresses.get(address);
  if (bytes === undefined) {
    if (addresses.size >= MAX_ADDRESSES) addresses.clear();
    bytes = Buffer.from(address);
    addresses.set(address, bytes);
  }
  lastAddress = address;
  lastAddressBytes = bytes;
  return bytes;
}

const JSON_TIME = '{"level":30,"time":';
let epochMs = -1;
let jsonStart = EMPTY;
/** The times whose digits fit where the last one's are, [low, high), and where those digits end. */
let sameWidthLow = 0;
let sameWidthHigh = 0;
let timeEnd = 0;

/**
 * `{"level":30,"time":` and the time as epochMs() writes it (`String(ms)`), up to the id's quote.
 * When the millisecond moves, its digits are written over the last ones (tens of lines share a
 * millisecond under load, and each new one printed a heap number and made a Buffer); only a time
 * of another width (or not a whole number) makes the prefix again.
 */
function jsonStartBytes(ms: number): Buffer {
  if (ms === epochMs) return jsonStart;
  epochMs = ms;
  if (ms >= sameWidthLow && ms < sameWidthHigh && Number.isInteger(ms)) {
    putDigitsEndingAt(jsonStart, timeEnd, ms);
    return jsonStart;
  }
  const text = String(ms);
  jsonStart = Buffer.from(`${JSON_TIME}${text},"msg":"request","reqId":"`);
  const whole = Number.isSafeInteger(ms) && ms >= 1;
  sameWidthLow = whole ? 10 ** (text.length - 1) : 0;
  sameWidthHigh = whole ? 10 ** text.length : 0;
  timeEnd = JSON_TIME.length + text.length;
  return jsonStart;
}

/** A positive integer's digits, written so that the last one is just before `end`. */
function putDigitsEndingAt(into: Buffer, end: number, n: number): void {
  do {
    const digit = n % 10;
    into[--end] = 0x30 + digit;
    n = (n - digit) / 10;
  } while (n > 0);
}

let stamp = '';
let combinedTime = EMPTY;

/** ` - - [`, timeLocal() (made once per second) and `] "`, up to the method. */
function timeLocalBytes(ms: number): Buffer {
  const text = timeLocal(ms);
  if (text !== stamp) {
    stamp = text;
    combinedTime = Buffer.from(` - - [${text}] "`);
  }
  return combinedTime;
}

let idHead = '';
let idHeadBytes = EMPTY;

/** requestIdOf(req): the id Fastify gave the request, or the next one, written from its number. */
function putRequestId(into: Buffer, at: number, req: IncomingMessage): number {
  const id = requestIdOrNumber(req);
  if (typeof id === 'string') return at + into.write(id, at);
  const head = requestIdHead();
  if (head !== idHead) {
    idHead = head;
    idHeadBytes = Buffer.from(head);
  }
  return putBase36(into, put(into, at, idHeadBytes), id);
}

const digits = new Uint8Array(24);

/** A non-negative integer in base 10 (a smi: the whole part of a duration under 35 minutes). */
function putInt(into: Buffer, at: number, n: number): number {
  let count = 0;
  do {
    const digit = n % 10;
    digits[count++] = 0x30 + digit;
    n = (n - digit) / 10;
  } while (n > 0);
  while (count > 0) into[at++] = digits[--count] as number;
  return at;
}

/** A non-negative integer as Number.prototype.toString(36) writes it. */
function putBase36(into: Buffer, at: number, n: number): number {
  let count = 0;
  do {
    const digit = n % 36;
    digits[count++] = digit < 10 ? 0x30 + digit : 0x57 + digit;
    n = (n - digit) / 36;
  } while (n > 0);
  while (count > 0) into[at++] = digits[--count] as number;
  return at;
}

/** thousandths(units) (access-line.ts) as bytes: `12.345`. */
function putThousandths(into: Buffer, at: number, units: number): number {
  const rounded = Math.round(units);
  if (!(rounded >= 0 && rounded < 2 ** 31)) return at + into.write(thousandths(units), at, 'latin1');
  const fraction = rounded % 1000;
  at = putInt(into, at, (rounded - fraction) / 1000);
  into[at] = 0x2e;
  into[at + 1] = 0x30 + ((fraction / 100) | 0);
  into[at + 2] = 0x30 + (((fraction / 10) | 0) % 10);
  into[at + 3] = 0x30 + (fraction % 10);
  return at + 4;
}
