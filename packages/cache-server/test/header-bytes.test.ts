import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import type { ClientHttp2Session } from 'node:http2';
import pino from 'pino';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { closeH2, connectH2, h2Request } from './helpers/h2.js';
import { waitFor } from './helpers/http.js';
import { RawConnection } from './helpers/raw.js';
import { startRawOrigin, type RawOrigin } from './helpers/raw-origin.js';
import { makeCertificates, type TestCertificates } from './helpers/tls.js';

/**
 * Header field values with obs-text (RFC 9110 §5.5: bytes 0x80–0xFF, "opaque data") reach the
 * client as the origin sent them, whichever way the response goes: a streamed miss, a hit, a HEAD,
 * a pass-through, HTTP/2. Real origins send them: a Latin-1 `é` in an app's header, the raw UTF-8
 * of a `Content-Disposition` filename (a download named "résumé.pdf"). A streamed miss used to
 * re-encode them as UTF-8 (Node's flushHeaders), so the first download of a file was named
 * differently from every later one.
 */
const SEED = Number(process.env.FC_SEED ?? 20261206);

/** The value each path's response carries in `X-Value`, and how its body is framed. */
interface Shape {
  value: Buffer;
  framing: 'length' | 'chunked' | 'close';
}
const shapes = new Map<string, Shape>();

function answer(shape: Shape, method: string): Buffer {
  const head = (framing: string) =>
    Buffer.concat([
      Buffer.from('HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nX-Value: '),
      shape.value,
      Buffer.from(`\r\nContent-Disposition: attachment; filename="r`),
      shape.value,
      Buffer.from(`.pdf"\r\n${framing}\r\n`),
    ]);
  const body = method === 'HEAD' ? '' : 'hello';
  if (shape.framing === 'length') return Buffer.concat([head('Content-Length: 5\r\n'), Buffer.from(body)]);
  if (shape.framing === 'chunked') {
    return Buffer.concat([head('Transfer-Encoding: chunked\r\n'), Buffer.from(body ? '5\r\nhello\r\n0\r\n\r\n' : '')]);
  }
  return Buffer.concat([head('Connection: close\r\n'), Buffer.from(body)]);
}

/** A field value with obs-text among visible ASCII, no leading or trailing space (RFC 9110 §5.5). */
const fieldValue = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0x80, max: 0xff }),
      fc.integer({ min: 0x21, max: 0x7e }).filter((byte) => byte !== 0x22 && byte !== 0x5c),
      fc.constant(0x20),
    ),
    { minLength: 1, maxLength: 24 },
  )
  .filter((bytes) => bytes[0] !== 0x20 && bytes[bytes.length - 1] !== 0x20)
  .map((bytes) => Buffer.from([0xe9, ...bytes]));

/** The raw bytes of field `name` in a response head. */
function fieldBytes(head: string, name: string): Buffer | undefined {
  const line = head.split('\r\n').find((item) => item.toLowerCase().startsWith(`${name}:`));
  return line === undefined ? undefined : Buffer.from(line.slice(name.length + 1).trim(), 'latin1');
}

describe('obs-text in a header field value', () => {
  let origin: RawOrigin;
  let cache: StartedCache;
  let certs: TestCertificates;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let client: ClientHttp2Session;
  let next = 0;

  beforeAll(async () => {
    dir = await tempDir();
    certs = await makeCertificates(dir.dir);
    origin = await startRawOrigin({
      '*': (socket, head) => {
        const [method = 'GET', target = '/'] = head.split(' ');
        const shape = shapes.get(target);
        if (shape === undefined) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        socket.write(answer(shape, method));
        if (shape.framing === 'close') socket.end();
      },
    });
    cache = await startTestCache(
      { origin: origin.url, cacheDir: `${dir.dir}/cache`, tlsCert: certs.certFile, tlsKey: certs.keyFile },
      { logger: pino({ level: process.env.LOG ?? 'silent' }) },
    );
    client = await connectH2(cache.tlsUrl as string, certs.ca);
  });
  afterAll(async () => {
    await closeH2(client);
    await cache.close();
    await origin.close();
    await dir.cleanup();
  });

  /** One request on a fresh connection: the response's head as latin1 text. */
  async function headOf(method: string, path: string): Promise<string> {
    const connection = await RawConnection.open(cache.url);
    try {
      const body = method === 'POST' ? 'Content-Length: 2\r\n\r\nhi' : '\r\n';
      connection.send(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${body}`);
      const chunks: Buffer[] = [];
      connection.socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      await connection.closed;
      const bytes = Buffer.concat(chunks).toString('latin1');
      return bytes.slice(0, bytes.indexOf('\r\n\r\n'));
    } finally {
      connection.socket.destroy();
    }
  }

  test('HTTP/1.1: a miss, a hit, a HEAD and a pass-through carry the bytes the origin sent', async () => {
    await fc.assert(
      fc.asyncProperty(
        fieldValue,
        fc.constantFrom('length', 'chunked', 'close') as fc.Arbitrary<Shape['framing']>,
        async (value, framing) => {
          const path = `/v${next++}`;
          for (const target of [path, `${path}?head`, `${path}?post`]) shapes.set(target, { value, framing });
          const heads = {
            miss: await headOf('GET', path),
            headMiss: await headOf('HEAD', `${path}?head`),
            pass: await headOf('POST', `${path}?post`),
          };
          await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
          const hit = await headOf('GET', path);
          expect(hit).toMatch(/x-cache: HIT/i);
          for (const [what, head] of Object.entries({ ...heads, hit })) {
            expect({ what, value: fieldBytes(head, 'x-value')?.toString('hex') }).toEqual({
              what,
              value: value.toString('hex'),
            });
            expect({ what, disposition: fieldBytes(head, 'content-disposition')?.toString('hex') }).toEqual({
              what,
              disposition: Buffer.concat([
                Buffer.from('attachment; filename="r'),
                value,
                Buffer.from('.pdf"'),
              ]).toString('hex'),
            });
          }
        },
      ),
      { numRuns: 25, seed: SEED },
    );
  });

  test('HTTP/2: the miss and the hit carry the same value, the one HTTP/1.1 gets', async () => {
    const value = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0xc3, 0xa9]);
    shapes.set('/h2', { value, framing: 'chunked' });
    const miss = await h2Request(client, '/h2');
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const hit = await h2Request(client, '/h2');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(hit.headers['x-cache']).toBe('HIT');
    // node:http2 hands the client field values as latin1 text, as node:http does.
    expect(Buffer.from(String(miss.headers['x-value']), 'latin1').toString('hex')).toBe(value.toString('hex'));
    expect(hit.headers['x-value']).toBe(miss.headers['x-value']);
  });
});
