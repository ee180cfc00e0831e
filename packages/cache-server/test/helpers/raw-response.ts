import { execFile } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

/** One HTTP/1.1 response read off the wire: status, lower-cased headers, body bytes as latin1. */
export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits what a server (or `curl -i`) wrote into responses. Bodies are framed by Content-Length
 * (or chunked); a response to HEAD has none (`headFor` says which ones answer a HEAD). Interim
 * 1xx responses are skipped. The last response takes the rest when it has no framing.
 */
export function parseResponses(text: string, headFor: (index: number) => boolean = () => false): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    rest = rest.slice(end + 4);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    if (status >= 100 && status < 200) continue;
    let body = '';
    if (!headFor(out.length) && status !== 204 && status !== 304) {
      if (headers['content-length'] !== undefined) {
        const length = Number(headers['content-length']);
        body = rest.slice(0, length);
        rest = rest.slice(length);
      } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        ({ body, rest } = readChunked(rest));
      } else {
        body = rest;
        rest = '';
      }
    }
    out.push({ status, headers, body });
  }
  return out;
}

function readChunked(text: string): { body: string; rest: string } {
  let body = '';
  let rest = text;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return { body, rest: '' };
    const size = parseInt(rest.slice(0, line), 16);
    rest = rest.slice(line + 2);
    if (!(size > 0)) return { body, rest: rest.slice(rest.indexOf('\r\n') + 2) };
    body += rest.slice(0, size);
    rest = rest.slice(size + 2);
  }
}

/** Runs curl with `args`; resolves with what it printed (use `-i` for the head) and its exit code. */
export function runCurl(args: string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1', timeout: 60_000 }, (error, stdout) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('curl is not installed (apt-get install curl): this test drives the real client'));
        return;
      }
      resolve({ stdout, code: typeof error?.code === 'number' ? error.code : 0 });
    });
  });
}

/** A port that was just listening and is now closed: connecting to it is refused. */
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** What a client that reads one response to its end saw (see readOneResponse). */
export interface ReadResponse {
  /** 0 when no response head arrived. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** The body is complete by its framing (Content-Length reached, last chunk, or none expected). */
  complete: boolean;
  /** The server closed the connection before we stopped waiting. */
  closedByServer: boolean;
}

/**
 * Sends `data` on a fresh connection and reads one response the way a careful client does: until
 * its framing says it is complete, or the server closes the connection, or `waitMs` passes (a
 * client left waiting: neither `complete` nor `closedByServer`). Interim 1xx heads are skipped.
 */
export function readOneResponse(
  base: string,
  data: string,
  options: { head?: boolean; waitMs: number },
): Promise<ReadResponse> {
  const url = new URL(base);
  const socket = net.connect(Number(url.port), url.hostname, () => socket.write(data));
  return readSocket(socket, options);
}

/** Reads one response from `socket` as readOneResponse does (the caller writes the request). */
export function readSocket(
  socket: net.Socket,
  options: { head?: boolean; waitMs: number } = { waitMs: 10_000 },
): Promise<ReadResponse> {
  return new Promise((resolve) => {
    let buffer = Buffer.alloc(0);
    let result: ReadResponse = {
      status: 0,
      headers: {},
      body: Buffer.alloc(0),
      complete: false,
      closedByServer: false,
    };
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...result, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.waitMs);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [parsed] = parseResponses(buffer.subarray(0, end + 4).toString('latin1'));
        if (parsed === undefined) {
          // An interim 1xx head: skip it and look at what follows.
          buffer = buffer.subarray(end + 4);
          continue;
        }
        const body = buffer.subarray(end + 4);
        result = { status: parsed.status, headers: parsed.headers, body, complete: false, closedByServer: false };
        result.complete = isComplete(parsed, body, options.head === true);
        if (result.complete) finish(false);
        return;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
  });
}

function isComplete(head: ParsedResponse, body: Buffer, isHead: boolean): boolean {
  if (isHead || head.status === 204 || head.status === 304) return true;
  const length = head.headers['content-length'];
  if (length !== undefined) return body.length >= Number(length);
  if (/chunked/i.test(head.headers['transfer-encoding'] ?? '')) return body.includes('0\r\n\r\n');
  return false;
}
