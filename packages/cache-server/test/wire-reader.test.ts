import { describe, expect, test } from '@jest/globals';
import { readResponses } from './helpers/wire.js';

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
