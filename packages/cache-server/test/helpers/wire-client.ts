import net from 'node:net';
import { WireReader, type WireEnd, type WireResponse } from './wire.js';

/** One request as bytes on the wire. */
export interface WireRequest {
  method: string;
  /** The request head and whatever body bytes go with it at once. */
  bytes: Buffer;
  /**
   * Bytes written only after the server answered `100 Continue`, a final response, or
   * `continueWaitMs` passed: the body of an `Expect: 100-continue` request. It is sent after a
   * final response too, as the framing announced it (RFC 9110 §10.1.1 lets the client choose
   * between that and closing; this client keeps the connection for the requests after it).
   */
  afterContinue?: Buffer;
}

export interface WireExchange {
  responses: WireResponse[];
  /** What followed the last complete response. */
  end: WireEnd;
  /** The server closed the connection (rather than us, after the last response or the wait). */
  closedByServer: boolean;
  /** The wait ran out before every response arrived and the server had not closed. */
  timedOut: boolean;
  /** Milliseconds from the first write to each complete response. */
  elapsed: number[];
  /** When (Date.now()) each request's head was handed to the socket. */
  headSentAt: number[];
  /** When (Date.now()) the last byte of each request (its body after a `100 Continue`) was. */
  sentAt: number[];
  /** When (Date.now()) each complete response had arrived. */
  receivedAt: number[];
  /** Everything the server sent. */
  raw: Buffer;
  /** The socket's error code, if it had one (a reset: ECONNRESET). */
  error?: string;
}

export interface ExchangeOptions {
  /** Write every request at once (pipelining) instead of each after the previous response. */
  pipeline?: boolean;
  /** The most this exchange may take; then the connection is closed and the result says so. */
  waitMs?: number;
  /** How long an `Expect: 100-continue` request waits for the interim response. */
  continueWaitMs?: number;
  /** Close the connection once this many bytes came back (a client that leaves mid-response). */
  abortAfterBytes?: number;
  /**
   * Read nothing for this long once the first response bytes came (a client that pauses: a
   * player whose buffer is full, a backgrounded tab), then read on.
   */
  pauseReadingMs?: number;
}

/**
 * Writes `requests` on one fresh connection to `base` and reads the responses with the strict
 * reader in wire.ts, as they arrive (each byte read once: the fuzzer's bodies reach 2.5 MB). Ends when every request has its response (then we close), when the server
 * closes, or when `waitMs` passes; which of these happened is part of the result.
 */
export function exchange(base: string, requests: WireRequest[], options: ExchangeOptions = {}): Promise<WireExchange> {
  const {
    pipeline = false,
    waitMs = 5_000,
    continueWaitMs = 1_000,
    abortAfterBytes = Infinity,
    pauseReadingMs = 0,
  } = options;
  const url = new URL(base);
  const methods = requests.map((r) => r.method);
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const reader = new WireReader(methods);
    const elapsed: number[] = [];
    const headSentAt: number[] = [];
    const sentAt: number[] = [];
    const receivedAt: number[] = [];
    let written = 0;
    let closedByServer = false;
    let timedOut = false;
    let settled = false;
    let error: string | undefined;
    let continueTimer: NodeJS.Timeout | undefined;
    let pendingBody: Buffer | undefined;
    const socket = net.connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);

    const raw = () => Buffer.concat(chunks);
    const writeBody = () => {
      clearTimeout(continueTimer);
      if (pendingBody && !socket.destroyed) {
        socket.write(pendingBody);
        sentAt[written - 1] = Date.now();
      }
      pendingBody = undefined;
      if (pipeline) writeNext();
    };
    const writeNext = () => {
      while (written < requests.length && !socket.destroyed) {
        const request = requests[written++] as WireRequest;
        socket.write(request.bytes);
        headSentAt[written - 1] = Date.now();
        sentAt[written - 1] = Date.now();
        if (request.afterContinue) {
          pendingBody = request.afterContinue;
          continueTimer = setTimeout(writeBody, continueWaitMs);
          return;
        }
        if (!pipeline) return;
      }
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(continueTimer);
      const reading = (closedByServer ? reader.close() : reader).reading();
      // A close-delimited body is complete only now.
      while (receivedAt.length < reading.responses.length) receivedAt.push(Date.now());
      resolve({
        responses: reading.responses,
        end: reading.end,
        closedByServer,
        timedOut,
        elapsed,
        headSentAt,
        sentAt,
        receivedAt,
        raw: raw(),
        error,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      finish();
      socket.destroy();
    }, waitMs);

    socket.on('connect', writeNext);
    let received = 0;
    let paused = false;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      reader.push(chunk);
      received += chunk.length;
      if (pauseReadingMs > 0 && !paused) {
        paused = true;
        socket.pause();
        setTimeout(() => socket.resume(), pauseReadingMs);
      }
      if (received >= abortAfterBytes) {
        finish();
        socket.destroy();
        return;
      }
      const reading = reader.reading();
      while (elapsed.length < reading.responses.length) {
        elapsed.push(Date.now() - started);
        receivedAt.push(Date.now());
      }
      if (pendingBody) {
        if (reading.responses.length >= written || reading.pending.includes(100)) writeBody();
      }
      if (reading.end.kind === 'malformed' || reading.responses.length >= requests.length) {
        finish();
        socket.destroy();
        return;
      }
      if (!pipeline && reading.responses.length === written && reading.end.kind === 'clean') writeNext();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => {
      if (!settled) closedByServer = true;
      finish();
    });
  });
}

/** A request head: `method target`, the given field lines (in order, as written), and an optional body. */
export function wireRequest(
  method: string,
  target: string,
  fieldLines: string[] = ['Host: x'],
  body?: string | Buffer,
  version = 'HTTP/1.1',
): WireRequest {
  const head = `${method} ${target} ${version}\r\n${fieldLines.map((line) => `${line}\r\n`).join('')}\r\n`;
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
  return { method, bytes };
}
