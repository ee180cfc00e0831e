import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

/** Deterministic bytes: chunk `index` of a large body, so a body never has to be held to be compared. */
export function chunkAt(index: number, size: number): Buffer {
  const chunk = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) chunk.writeUInt32LE((index * 2654435761 + i) >>> 0, i);
  return chunk;
}

/** SHA-1 of the body made of `count` chunks of `size` bytes (see chunkAt). */
export function sha1OfChunks(count: number, size: number): string {
  const hash = createHash('sha1');
  for (let i = 0; i < count; i++) hash.update(chunkAt(i, size));
  return hash.digest('hex');
}

/** An origin route body of `count` deterministic chunks, written with back-pressure. */
export function pumpChunks(res: http.ServerResponse, count: number, size: number): void {
  let i = 0;
  const pump = () => {
    while (i < count) {
      if (!res.write(chunkAt(i++, size))) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

/** GETs `path`, hashing the body as it arrives. Rejects when the connection breaks mid-body. */
export function streamGet(
  base: string,
  path: string,
  headers: http.OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; sha1: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${base}${path}`, { agent: false, headers }, (res) => {
        const hash = createHash('sha1');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, sha1: hash.digest('hex'), bytes }),
        );
        res.on('aborted', () => reject(new Error('aborted')));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** Status codes of every response in `text`, in order. */
  statuses: number[];
  /** True when the server closed the connection (rather than our time limit ending it). */
  closedByServer: boolean;
}

/**
 * Writes `data` exactly as given on a fresh connection and collects what comes back until the
 * server closes the connection or `waitMs` passes (then we close it). The wait bounds a test;
 * the outcome is decided by what the server sent.
 */
export function rawExchange(base: string, data: string | Buffer, waitMs = 2_000): Promise<RawExchange> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => socket.write(data));
    let text = '';
    let closedByServer = true;
    const timer = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, waitMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ text, statuses, closedByServer });
    });
  });
}

/** A connection that sends a request and then never reads the response (a stalled reader). */
export function stalledReader(base: string, path: string): Promise<net.Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads the rest of a raw HTTP/1.1 response with Content-Length from `socket`: its body's SHA-1 and length. */
export function readRawBody(socket: net.Socket): Promise<{ sha1: string; bytes: number; complete: boolean }> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    let length = -1;
    let bytes = 0;
    const hash = createHash('sha1');
    const finish = () => resolve({ sha1: hash.digest('hex'), bytes, complete: bytes === length });
    socket.on('data', (chunk: Buffer) => {
      if (length < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        length = Number(/content-length: (\d+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? -1);
        chunk = head.subarray(end + 4);
      }
      bytes += chunk.length;
      hash.update(chunk);
      if (bytes >= length) {
        socket.destroy();
      }
    });
    socket.once('close', finish);
    socket.on('error', () => {});
    socket.resume();
  });
}

/** Open connections on a server right now. */
export function connectionCount(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** One response read off a raw connection: its head as latin1 text (with the blank line) and its body. */
export interface RawResponse {
  head: string;
  body: Buffer;
}

/**
 * A client connection that sends bytes exactly as given and reads responses one at a time,
 * framed by their Content-Length (a HEAD's by none): pipelining, keep-alive and who closes the
 * connection can be asserted from the outside.
 */
export class RawConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;
  /** Settles when the server closes the connection (or it breaks). */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.waiting?.();
        resolve();
      }),
    );
  }

  static open(base: string): Promise<RawConnection> {
    const url = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next whole response; `bodiless` for the answer to a HEAD. Rejects if the connection ends first. */
  async next(bodiless = false): Promise<RawResponse> {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buffered.subarray(0, end + 4).toString('latin1');
        const length = bodiless ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
        if (Number.isNaN(length)) throw new Error(`a response without Content-Length: ${head}`);
        if (this.buffered.length >= end + 4 + length) {
          const body = Buffer.from(this.buffered.subarray(end + 4, end + 4 + length));
          this.buffered = this.buffered.subarray(end + 4 + length);
          return { head, body };
        }
      }
      if (this.ended) throw new Error(`the connection closed with ${this.buffered.length} bytes of a response`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }

  /** Bytes received and not yet read as a response (after the last one: should be none). */
  get unread(): number {
    return this.buffered.length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
