import type { IncomingMessage } from 'node:http';
import { ERRORS, type ErrorSpec } from '../errors.js';
import { isValidHost, readRequestTarget } from '../policy/index.js';

/** The last Host found valid: clients send a few names, over and over (the check is pure). */
let lastValidHost: string | undefined;

/**
 * RFC 9112 §3.2, for every request before anything else reads it (the fast path included):
 * - a server MUST answer 400 to an HTTP/1.1 request without Host, with more than one Host line,
 *   or with a Host that is not `uri-host [ ":" port ]`: CACHE_ERR_BAD_HOST (Node keeps only the
 *   first of two Host lines, so they are counted in rawHeaders); so is an empty host name with
 *   an origin-form target (the target URI would have none);
 * - an absolute-form target (`GET http://host/path HTTP/1.1`, what a client configured to use a
 *   proxy sends) MUST be accepted (§3.2.2), its authority replacing Host: the request is
 *   rewritten in place to origin-form and that Host, so the router, the admin prefix, the fast
 *   path, the key and X-Forwarded-Host all see one form. One that is not http(s), or has
 *   userinfo or no host, is CACHE_ERR_BAD_REQUEST_TARGET.
 * Over HTTP/2 `:authority` takes Host's place. Returns the refusal, if any.
 */
export function checkRequestTarget(req: IncomingMessage): ErrorSpec | undefined {
  let hosts = 0;
  let host: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    // The two spellings clients send, compared before lowering (which makes a new string).
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
      hosts += 1;
      host = raw[i + 1];
    }
  }
  if (hosts > 1) return ERRORS.badHost;
  // HTTP/2 (RFC 9113 §8.3.1): `:authority` is what Host is in HTTP/1.1 and is checked as one,
  // and a Host field naming another authority makes the request malformed (the SHOULD, taken:
  // otherwise the two disagree about X-Forwarded-Host). FINDINGS F17.
  const authority = req.httpVersionMajor === 2 ? req.headers[':authority'] : undefined;
  if (typeof authority === 'string') {
    if (host !== undefined && host.toLowerCase() !== authority.toLowerCase()) return ERRORS.badHost;
    host = authority;
  }
  if (host === undefined) {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) return ERRORS.badHost;
  } else if (host !== lastValidHost) {
    if (!isValidHost(host)) return ERRORS.badHost;
    lastValidHost = host;
  }
  const url = req.url ?? '';
  // An origin-form target's URI is rebuilt from Host (RFC 9112 §3.3): an empty host would make
  // `http:///path`, which a recipient MUST reject (RFC 9110 §4.2.1). FINDINGS F14.
  if (url.charCodeAt(0) === 0x2f) return host !== undefined && hasNoHostName(host) ? ERRORS.badHost : undefined;
  const target = readRequestTarget(url);
  if (target.form === 'invalid') return ERRORS.badRequestTarget;
  if (target.form === 'absolute') {
    req.url = target.originForm;
    req.headers.host = target.authority;
  }
  return undefined;
}

/** `''` or `:port`: valid Host syntax, but no host name. */
function hasNoHostName(host: string): boolean {
  return host === '' || host.charCodeAt(0) === 0x3a;
}
