// @system-packages nginx-light
import { describeDifferential, type Case } from './helpers/nginx-differential.js';
import { wireRequest, type WireRequest } from './helpers/wire-client.js';

/**
 * The requests clients really send, through nginx's proxy_cache and through the cache in front of
 * one origin: every method with every framing, Host and target forms, pipelining, Expect. Where
 * the two disagree, the difference must be a row of the one table in docs/testing.md.
 */
const H = 'Host: x';
const FRAMINGS: Record<string, { fields: string[]; body?: string }> = {
  'no body': { fields: [] },
  'Content-Length: 0': { fields: ['Content-Length: 0'] },
  'a body': { fields: ['Content-Length: 5'], body: 'hello' },
  chunked: { fields: ['Transfer-Encoding: chunked'], body: '5\r\nhello\r\n0\r\n\r\n' },
};
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'QUERY'];
/** Content-Types no proxy should judge: the body goes to the origin as it came. */
const CONTENT_TYPES: Record<string, string> = {
  'json-invalid': 'application/json',
  'multipart-without-boundary': 'multipart/form-data',
  'bogus-charset': 'text/plain; charset=bogus',
  'not-a-media-type': 'text',
  empty: '',
  huge: `application/octet-stream; x=${'a'.repeat(6_000)}`,
};

function framed(method: string, target: string, framing: string, fields: string[] = [H]): WireRequest {
  const f = FRAMINGS[framing] as { fields: string[]; body?: string };
  return wireRequest(method, target, [...fields, ...f.fields], f.body);
}
const get = (target: string, fields: string[] = []) => wireRequest('GET', target, [H, ...fields]);
const one = (...requests: WireRequest[]) => ({ requests });

/** Raw requests whose framing is ambiguous or invalid, for the case's path prefix `p`. */
const smuggled = (p: string) => `GET ${p}/echo?smuggled HTTP/1.1\r\nHost: x\r\n\r\n`;
const AMBIGUOUS: Record<string, (p: string) => string> = {
  'cl-and-te': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  'te-and-cl': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n`,
  'two-lengths': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
  'equal-lengths': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
  'length-list': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: 4, 4\r\n\r\nabcd`,
  'signed-length': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: +4\r\n\r\nabcd`,
  'unknown-coding': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`,
  'chunked-not-last': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
  'gzip-then-chunked': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  'coding-twice': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  'space-before-colon': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
  'obs-fold': (p) => `GET ${p}/echo HTTP/1.1\r\n${H}\r\nX-A: one\r\n two\r\n\r\n`,
  'bare-lf': (p) => `GET ${p}/echo HTTP/1.1\n${H}\n\n`,
  'nul-in-field': (p) => `GET ${p}/echo HTTP/1.1\r\n${H}\r\nX-A: a\0b\r\n\r\n`,
  'te-in-http-1-0': (p) => `POST ${p}/echo HTTP/1.0\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  'bad-chunk-extension': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n4;a=b\x01\r\nabcd\r\n0\r\n\r\n`,
  'chunk-size-overflow': (p) =>
    `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF1\r\nabcd\r\n0\r\n\r\n`,
  'lf-after-chunk-size': (p) => `POST ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\n0\n\n`,
  'get-body-is-a-request': (p) =>
    `GET ${p}/echo HTTP/1.1\r\n${H}\r\nContent-Length: ${smuggled(p).length}\r\n\r\n${smuggled(p)}`,
  'chunked-body-is-a-request': (p) =>
    `DELETE ${p}/echo HTTP/1.1\r\n${H}\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled(p).length.toString(16)}\r\n${smuggled(p)}\r\n0\r\n\r\n`,
};

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

const CASES: Case[] = [
  // Every method × every framing, to an origin that says what it received.
  ...METHODS.flatMap((method) =>
    Object.keys(FRAMINGS).map((framing): Case => ({
      id: `${method.toLowerCase()}-${slug(framing)}`,
      steps: (b) => [one(framed(method, `${b}/echo`, framing))],
    })),
  ),
  // Bodies with a Content-Type a parser would refuse, and QUERY without one (RFC 10008 asks the
  // origin, not a proxy, to refuse that).
  ...['POST', 'QUERY'].flatMap((method) =>
    Object.entries(CONTENT_TYPES).map(([name, type]): Case => ({
      id: `${method.toLowerCase()}-content-type-${name}`,
      steps: (b) => [one(framed(method, `${b}/echo`, 'a body', [H, `Content-Type: ${type}`]))],
    })),
  ),
  { id: 'percent-not-an-escape', steps: (b) => [one(get(`${b}/%zz`))] },
  { id: 'percent-not-an-escape-in-query', steps: (b) => [one(get(`${b}/echo?x=%zz`))] },
  // An unsafe method between two GETs of a stored URL (RFC 9111 §4.4).
  ...['POST', 'PUT', 'DELETE'].map((method): Case => ({
    id: `${method.toLowerCase()}-invalidates`,
    steps: (b) => [
      one(get(`${b}/cacheable`)),
      one(framed(method, `${b}/cacheable`, 'no body')),
      one(get(`${b}/cacheable`)),
    ],
  })),
  // Host and request-target forms (RFC 9112 §3.2, §3.3).
  { id: 'host-missing', steps: (b) => [one(wireRequest('GET', `${b}/echo`, []))] },
  { id: 'host-missing-http-1-0', steps: (b) => [one(wireRequest('GET', `${b}/echo`, [], undefined, 'HTTP/1.0'))] },
  { id: 'host-twice-same', steps: (b) => [one(wireRequest('GET', `${b}/echo`, [H, H]))] },
  { id: 'host-twice-different', steps: (b) => [one(wireRequest('GET', `${b}/echo`, [H, 'Host: y']))] },
  { id: 'host-with-path', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: evil.example/x@y']))] },
  { id: 'host-with-userinfo', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: u@x']))] },
  { id: 'host-with-port', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: x:8080']))] },
  { id: 'host-ipv6', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: [::1]:8080']))] },
  { id: 'host-bad-port', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: x:99999999']))] },
  { id: 'host-empty', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host:']))] },
  { id: 'host-twice', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: x', 'Host: y']))] },
  { id: 'host-with-path', steps: (b) => [one(wireRequest('GET', `${b}/echo`, ['Host: x/y']))] },
  { id: 'absolute-form', steps: (b) => [one(wireRequest('GET', `http://x${b}/echo?a=1`, [H]))] },
  { id: 'absolute-form-https', steps: (b) => [one(wireRequest('GET', `https://x${b}/echo`, [H]))] },
  { id: 'absolute-form', steps: (b) => [one(wireRequest('GET', `http://x${b}/echo`, [H]))] },
  { id: 'absolute-form-other-host', steps: (b) => [one(wireRequest('GET', `http://a${b}/echo`, ['Host: b']))] },
  {
    id: 'absolute-form-cached',
    steps: (b) => [one(wireRequest('GET', `http://x${b}/cacheable`, [H])), one(get(`${b}/cacheable`))],
  },
  { id: 'asterisk-form-get', steps: () => [one(wireRequest('GET', '*', [H]))] },
  { id: 'asterisk-form-options', steps: () => [one(wireRequest('OPTIONS', '*', [H]))] },
  { id: 'authority-form-connect', steps: () => [one(wireRequest('CONNECT', 'x:443', [H]))] },
  { id: 'ban', steps: (b) => [one(wireRequest('BAN', `${b}/echo`, [H]))] },
  { id: 'trace', steps: (b) => [one(wireRequest('TRACE', `${b}/echo`, [H]))] },
  { id: 'trace-with-cookie', steps: (b) => [one(wireRequest('TRACE', `${b}/echo`, [H, 'Cookie: session=s3cret']))] },
  // RFC 9110 §7.6.2: Max-Forwards on OPTIONS (0: the intermediary answers itself).
  { id: 'options-max-forwards-0', steps: (b) => [one(wireRequest('OPTIONS', `${b}/echo`, [H, 'Max-Forwards: 0']))] },
  { id: 'options-max-forwards-1', steps: (b) => [one(wireRequest('OPTIONS', `${b}/echo`, [H, 'Max-Forwards: 1']))] },
  { id: 'unknown-method', steps: (b) => [one(wireRequest('FROB', `${b}/echo`, [H]))] },
  { id: 'dot-segments', steps: (b) => [one(get(`${b}/x/../echo`))] },
  { id: 'encoded-dot-segments', steps: (b) => [one(get(`${b}/x/%2e%2e/echo`))] },
  { id: 'query', steps: (b) => [one(get(`${b}/echo?a=1&b=%20`))] },
  // Bytes above 0x7F in the target, raw (as some scripts and old clients send them) and escaped
  // (as browsers and curl do); and in a field value (obs-text, RFC 9110 §5.5). Latin-1 text is
  // what the wire client writes byte for byte: '\u00c3\u00a9' is the UTF-8 of é, '\u00e9' its Latin-1.
  { id: 'target-raw-utf8', steps: (b) => [one(get(`${b}/echo?caf\u00c3\u00a9`))] },
  { id: 'target-raw-latin1', steps: (b) => [one(get(`${b}/echo?caf\u00e9`))] },
  { id: 'target-escaped-utf8', steps: (b) => [one(get(`${b}/echo?caf%C3%A9`))] },
  { id: 'field-obs-text', steps: (b) => [one(get(`${b}/echo`, ['X-Name: caf\u00c3\u00a9']))] },
  // Pipelining: every request answered, in order, each with its own body.
  {
    id: 'pipelined-gets',
    steps: (b) => [{ pipeline: true, requests: [get(`${b}/cacheable`), get(`${b}/cacheable`), get(`${b}/echo`)] }],
  },
  {
    id: 'pipelined-post-then-get',
    steps: (b) => [{ pipeline: true, requests: [framed('POST', `${b}/echo`, 'a body'), get(`${b}/echo`)] }],
  },
  {
    id: 'pipelined-chunked-then-get',
    steps: (b) => [{ pipeline: true, requests: [framed('PUT', `${b}/echo`, 'chunked'), get(`${b}/echo`)] }],
  },
  {
    id: 'pipelined-bodiless-delete-then-get',
    steps: (b) => [{ pipeline: true, requests: [framed('DELETE', `${b}/echo`, 'no body'), get(`${b}/echo`)] }],
  },
  // A client MUST NOT send anything after a request that closes the connection (RFC 9112 §9.6).
  {
    id: 'pipelined-after-close',
    steps: (b) => [{ pipeline: true, requests: [get(`${b}/echo`, ['Connection: close']), get(`${b}/echo`)] }],
  },
  {
    id: 'pipelined-after-http-1-0',
    steps: (b) => [
      { pipeline: true, requests: [wireRequest('GET', `${b}/echo`, [], undefined, 'HTTP/1.0'), get(`${b}/echo`)] },
    ],
  },
  // The same after a response the proxy refused and closed with (RFC 9112 §9.6: no further request
  // on that connection is processed; Node hands the pipelined one over all the same).
  ...Object.entries({
    'bad-target': get(`/%zz`),
    'no-host': wireRequest('GET', '/echo', []),
    trace: wireRequest('TRACE', '/echo', [H]),
  }).map(([name, refused]): Case => ({
    id: `pipelined-after-${name}`,
    steps: (b) => [{ pipeline: true, requests: [refused, get(`${b}/echo`)] }],
  })),
  {
    id: 'pipelined-head-then-get',
    steps: (b) => [{ pipeline: true, requests: [wireRequest('HEAD', `${b}/cacheable`, [H]), get(`${b}/cacheable`)] }],
  },
  // Expect: 100-continue (RFC 9110 §10.1.1).
  {
    id: 'expect-continue',
    steps: (b) => [
      one({
        ...wireRequest('POST', `${b}/echo`, [H, 'Content-Length: 5', 'Expect: 100-continue']),
        afterContinue: Buffer.from('hello'),
      }),
    ],
  },
  {
    id: 'expect-continue-chunked',
    steps: (b) => [
      one({
        ...wireRequest('PUT', `${b}/echo`, [H, 'Transfer-Encoding: chunked', 'Expect: 100-continue']),
        afterContinue: Buffer.from('5\r\nhello\r\n0\r\n\r\n'),
      }),
    ],
  },
  // The interim response of a pipelined request must come in its turn, never inside another
  // response (FINDINGS F12): a stored response and a miss behind a slow one.
  ...['cacheable', 'echo'].map((route): Case => ({
    id: `expect-continue-pipelined-${route}`,
    steps: (b) => [
      one(get(`${b}/${route}`)),
      {
        pipeline: true,
        requests: [
          get(`${b}/slow`),
          {
            ...wireRequest('GET', `${b}/${route}`, [H, 'Content-Length: 5', 'Expect: 100-continue']),
            afterContinue: Buffer.from('hello'),
          },
          get(`${b}/${route}`),
        ],
      },
    ],
  })),
  { id: 'expect-continue-get', steps: (b) => [one(get(`${b}/cacheable`, ['Expect: 100-continue']))] },
  { id: 'expect-unknown', steps: (b) => [one(framed('POST', `${b}/echo`, 'a body', [H, 'Expect: teapot']))] },
  // Framing two parsers could read differently (request smuggling, RFC 9112 §6.3), each followed
  // on the same connection by a GET: what reaches the origin, and is the GET answered?
  ...Object.entries(AMBIGUOUS).map(([id, head]): Case => ({
    id: `framing-${id}`,
    steps: (b) => [
      {
        pipeline: true,
        requests: [{ method: 'POST', bytes: Buffer.from(head(b), 'latin1') }, get(`${b}/echo`, ['Connection: close'])],
      },
    ],
  })),
];

// No case here waits for the origin timeout: a long one keeps a loaded machine from failing them.
describeDifferential('nginx as an oracle: requests as clients send them', CASES, { originTimeout: 5_000 });
