/**
 * The catalogue of errors the cache answers with. Codes are stable (tests and log queries rely
 * on them); messages are for humans. 4xx: the client's request is at fault; 502/504: the origin.
 */
export interface ErrorSpec {
  code: string;
  status: number;
  message: string;
}

export const ERRORS = {
  badRequestTarget: {
    code: 'CACHE_ERR_BAD_REQUEST_TARGET',
    status: 400,
    message: 'The request target is not a valid path for this cache.',
  },
  badFraming: {
    code: 'CACHE_ERR_BAD_FRAMING',
    status: 400,
    message: 'The request framing is ambiguous (Transfer-Encoding in an HTTP/1.0 request, or not ending with chunked).',
  },
  badHost: {
    code: 'CACHE_ERR_BAD_HOST',
    status: 400,
    message: 'The request needs exactly one Host field, a host name or address with an optional port.',
  },
  malformedRequest: {
    code: 'CACHE_ERR_MALFORMED_REQUEST',
    status: 400,
    message: 'The request could not be parsed as HTTP/1.1.',
  },
  methodNotAllowed: {
    code: 'CACHE_ERR_METHOD_NOT_ALLOWED',
    status: 405,
    message: 'This cache does not take that method.',
  },
  requestTimeout: {
    code: 'CACHE_ERR_REQUEST_TIMEOUT',
    status: 408,
    message: 'The request did not arrive in time.',
  },
  headersTooLarge: {
    code: 'CACHE_ERR_HEADERS_TOO_LARGE',
    status: 431,
    message: 'The request line and header fields are larger than this cache takes.',
  },
  bodyTooLarge: {
    code: 'CACHE_ERR_BODY_TOO_LARGE',
    status: 413,
    message: 'The request body is larger than this cache forwards.',
  },
  unsupportedTransferCoding: {
    code: 'CACHE_ERR_UNSUPPORTED_TRANSFER_CODING',
    status: 501,
    message: 'The request body has a transfer coding this cache does not decode (only chunked).',
  },
  tooManyConnections: {
    code: 'CACHE_ERR_TOO_MANY_CONNECTIONS',
    status: 503,
    message: 'The cache has too many open connections; retry later.',
  },
  overloaded: {
    code: 'CACHE_ERR_OVERLOADED',
    status: 503,
    message: 'The cache is overloaded; retry later.',
  },
  shuttingDown: {
    code: 'CACHE_ERR_SHUTTING_DOWN',
    status: 503,
    message: 'The cache is shutting down; retry on a new connection.',
  },
  originUnreachable: {
    code: 'CACHE_ERR_ORIGIN_UNREACHABLE',
    status: 502,
    message: 'The origin server could not be reached.',
  },
  originBadResponse: {
    code: 'CACHE_ERR_ORIGIN_BAD_RESPONSE',
    status: 502,
    message: 'The origin server sent an invalid or incomplete response.',
  },
  originTls: {
    code: 'CACHE_ERR_ORIGIN_TLS',
    status: 502,
    message: "The origin's TLS certificate could not be verified, or its TLS handshake failed.",
  },
  originTimeout: {
    code: 'CACHE_ERR_ORIGIN_TIMEOUT',
    status: 504,
    message: 'The origin server did not answer in time.',
  },
  onlyIfCached: {
    code: 'CACHE_ERR_ONLY_IF_CACHED',
    status: 504,
    message: 'only-if-cached was requested and no usable stored response exists.',
  },
  preconditionFailed: {
    code: 'CACHE_ERR_PRECONDITION_FAILED',
    status: 412,
    message: 'A precondition of the request is false for the stored response.',
  },
  rangeNotSatisfiable: {
    code: 'CACHE_ERR_RANGE_NOT_SATISFIABLE',
    status: 416,
    message: 'None of the requested ranges overlap the stored response.',
  },
} as const satisfies Record<string, ErrorSpec>;

/** An error that carries its catalogue entry, so the HTTP layer knows what to answer. */
export class CacheError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(spec: ErrorSpec, options?: { cause?: unknown }) {
    super(spec.message, options);
    this.name = 'CacheError';
    this.code = spec.code;
    this.status = spec.status;
  }
}
