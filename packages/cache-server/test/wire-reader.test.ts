import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readResponses, WireReader } from './helpers/wire.js';

/**
 * The strict response reader the differential and fuzz tests judge framing with (helpers/wire.ts)
 * is an oracle: it must itself read RFC 9112 right. One row per rule.
 */
const OK = 'HTTP/1.1 200 OK\r\n';

describe('the strict HTTP/1.1 response reader', () => {
  test.each([
    ['Content-Length', `${OK}Content-Length: 5\r\n\r\nhello`, ['GET'], true, [[200, 'hello', 'length']], 'clean'],
    [
      'chunked, with an extension and a trailer',
      `${OK}Transfer-Encoding: chunked\r\n\r\n2;x=y\r\nhe\r\n3\r\nllo\r\n0\r\nT: 1\r\n\r\n`,
      ['GET'],
      true,
      [[200, 'hello', 'chunked']],
      'clean',
    ],
    ['until the connection closes', `${OK}\r\nhello`, ['GET'], true, [[200, 'hello', 'close']], 'clean'],
    ['a close-delimited body while the connection is open', `${OK}\r\nhel`, ['GET'], false, [], 'partial'],
    [
      'a HEAD response has no body whatever its length (§6.3)',
      `${OK}Content-Length: 5\r\n\r\n${OK}Content-Length: 2\r\n\r\nhi`,
      ['HEAD', 'GET'],
      true,
      [
        [200, '', 'none'],
        [200, 'hi', 'length'],
      ],
      'clean',
    ],
    [
      '204 and 304 have no body',
      'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n',
      ['GET', 'GET'],
      true,
      [
        [204, '', 'none'],
        [304, '', 'none'],
      ],
      'clean',
    ],
    [
      '1xx come before the final response',
      `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`,
      ['POST'],
      true,
      [[200, 'ok', 'length']],
      'clean',
    ],
    [
      'pipelined responses in order',
      `${OK}Content-Length: 1\r\n\r\na${OK}Transfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n`,
      ['GET', 'GET'],
      true,
      [
        [200, 'a', 'length'],
        [200, 'b', 'chunked'],
      ],
      'clean',
    ],
    ['a body shorter than Content-Length', `${OK}Content-Length: 9\r\n\r\nhello`, ['GET'], true, [], 'partial'],
    [
      'a chunked body without its last chunk',
      `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
      ['GET'],
      true,
      [],
      'partial',
    ],
    [
      'Content-Length with Transfer-Encoding',
      `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ['GET'],
      true,
      [],
      'malformed',
    ],
    [
      'two different Content-Lengths',
      `${OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
      ['GET'],
      true,
      [],
      'malformed',
    ],
    ['a signed Content-Length', `${OK}Content-Length: +5\r\n\r\nhello`, ['GET'], true, [], 'malformed'],
    [
      'a bad chunk size',
      `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
      ['GET'],
      true,
      [],
      'malformed',
    ],
    ['obs-fold', `${OK}X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n`, ['GET'], true, [], 'malformed'],
    ['a space before the colon', `${OK}X-A : a\r\nContent-Length: 0\r\n\r\n`, ['GET'], true, [], 'malformed'],
    ['bytes that are not a response', 'hello world\r\n\r\n', ['GET'], true, [], 'malformed'],
    ['an unrequested 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', ['GET'], true, [], 'malformed'],
    [
      'bytes after the last response',
      `${OK}Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Le`,
      ['GET'],
      true,
      [[200, 'ok', 'length']],
      'partial',
    ],
  ])('%s', (_rule, bytes, methods, closed, expected, end) => {
    const reading = readResponses(Buffer.from(bytes, 'latin1'), methods, closed);
    expect(reading.responses.map((r) => [r.status, r.body.toString('latin1'), r.framing])).toEqual(expected);
    expect(reading.end.kind).toBe(end);
  });
});

/** One response as a server might send it, its body as the reader must give it back. */
const response = fc
  .record({
    interim: fc.constantFrom('', 'HTTP/1.1 100 Continue\r\n\r\n', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'),
    body: fc.string({ unit: 'binary-ascii', maxLength: 300 }),
    framing: fc.constantFrom('length', 'chunked', 'none'),
    chunk: fc.integer({ min: 1, max: 64 }),
    trailer: fc.boolean(),
  })
  .map(({ interim, body, framing, chunk, trailer }) => {
    if (framing === 'none') return { bytes: `${interim}HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n`, body: '' };
    if (framing === 'length') return { bytes: `${interim}${OK}Content-Length: ${body.length}\r\n\r\n${body}`, body };
    let chunked = '';
    for (let at = 0; at < body.length; at += chunk) {
      const part = body.slice(at, at + chunk);
      chunked += `${part.length.toString(16)}${at === 0 ? ';ext=1' : ''}\r\n${part}\r\n`;
    }
    const trailers = trailer ? 'X-Sum: 1\r\n' : '';
    return { bytes: `${interim}${OK}Transfer-Encoding: chunked\r\n\r\n${chunked}0\r\n${trailers}\r\n`, body };
  });

/** Where to cut `length` bytes into the pieces they arrive in. */
const cuts = (length: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 })
    .map((at) => at.filter((cut) => cut < length).sort((a, b) => a - b));

function pieces(bytes: Buffer, at: number[]): Buffer[] {
  return [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length));
}

describe('read as the bytes arrive (WireReader)', () => {
  test('in any pieces, valid responses read back whole, and each prefix reads as if it were everything', () => {
    fc.assert(
      fc.property(
        fc.array(response, { minLength: 1, maxLength: 4 }).chain((sent) => {
          const bytes = Buffer.from(sent.map((r) => r.bytes).join(''), 'latin1');
          return fc.tuple(fc.constant(sent), fc.constant(bytes), cuts(bytes.length));
        }),
        ([sent, bytes, at]) => {
          const methods = sent.map(() => 'GET');
          const reader = new WireReader(methods);
          let length = 0;
          for (const piece of pieces(bytes, at)) {
            reader.push(piece);
            length += piece.length;
            expect(reader.reading()).toEqual(readResponses(bytes.subarray(0, length), methods, false));
          }
          const reading = reader.close().reading();
          expect(reading.end).toEqual({ kind: 'clean' });
          expect(reading.responses.map((r) => r.body.toString('latin1'))).toEqual(sent.map((r) => r.body));
        },
      ),
    );
  });

  test('in any pieces, bytes that are not well framed read the same as at once', () => {
    // Responses with a byte changed, cut short, or followed by a close-delimited one.
    const damaged = fc
      .tuple(
        fc.array(response, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
      )
      .map(([sent, where, byte, closeDelimited]) => {
        const text = sent.map((r) => r.bytes).join('') + (closeDelimited ? `${OK}\r\nuntil the end` : '');
        const bytes = Buffer.from(text, 'latin1');
        const damagedAt = where % bytes.length;
        if (byte % 2 === 0) bytes[damagedAt] = byte;
        return {
          methods: [...sent.map(() => 'GET'), 'GET'],
          bytes: byte % 3 === 0 ? bytes.subarray(0, damagedAt) : bytes,
        };
      });
    fc.assert(
      fc.property(
        damaged.chain((input) => fc.tuple(fc.constant(input), cuts(input.bytes.length), fc.boolean())),
        ([{ methods, bytes }, at, closed]) => {
          const reader = new WireReader(methods);
          for (const piece of pieces(bytes, at)) reader.push(piece);
          expect((closed ? reader.close() : reader).reading()).toEqual(readResponses(bytes, methods, closed));
        },
      ),
    );
  });
});
