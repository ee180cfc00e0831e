/**
 * Request-targets that try to confuse the primary key (RFC 9111 §2, RFC 9110 §4.2.3, RFC 3986
 * §6.2.2, RFC 9112 §3.2) and the key each must give, at an origin without and with a base path.
 * undefined = rejected (the proxy answers 400).
 */

export const ORIGIN = 'http://127.0.0.1:8000';
export const BASE_ORIGIN = 'http://h.test/base';

/** [rule, raw request-target, key at ORIGIN, key at BASE_ORIGIN]. */
export type PathCase = [string, string, string | undefined, string | undefined];

const o = (path: string): string => `${ORIGIN}${path}`;
const b = (path: string): string => `${BASE_ORIGIN}${path}`;

export const PATH_CASES: PathCase[] = [
  ['root', '/', o('/'), b('/')],
  ['plain path', '/a/b', o('/a/b'), b('/a/b')],
  ['dot-dot segment removed (RFC 3986 §5.2.4)', '/a/../b', o('/b'), b('/b')],
  ['dot-dot above the root stays at the root', '/../../x', o('/x'), b('/x')],
  ['dot-dot alone', '/..', o('/'), b('/')],
  ['trailing dot-dot', '/a/..', o('/'), b('/')],
  ['dot segment removed', '/a/./b', o('/a/b'), b('/a/b')],
  ['trailing dot keeps the slash', '/a/.', o('/a/'), b('/a/')],
  ['%2e%2e is a dot-dot segment', '/a/%2e%2e/b', o('/b'), b('/b')],
  ['%2E%2e (mixed case) is a dot-dot segment', '/a/%2E%2e/b', o('/b'), b('/b')],
  ['.%2E is a dot-dot segment', '/a/.%2E/b', o('/b'), b('/b')],
  ['%2e is a dot segment', '/a/%2e/b', o('/a/b'), b('/a/b')],
  ['%2e%2e cannot escape the base path', '/%2e%2e/%2e%2e/etc/passwd', o('/etc/passwd'), b('/etc/passwd')],
  ['%2f stays encoded, upper-cased: a different resource than /', '/a%2fb', o('/a%2Fb'), b('/a%2Fb')],
  ['%2F stays encoded', '/a%2Fb', o('/a%2Fb'), b('/a%2Fb')],
  ['..%2f..%2f is one ordinary segment', '/a/..%2f..%2fb', o('/a/..%2F..%2Fb'), b('/a/..%2F..%2Fb')],
  ['double-encoded dots stay encoded', '/a/%252e%252e/b', o('/a/%252e%252e/b'), b('/a/%252e%252e/b')],
  ['backslash is a slash (WHATWG URL)', '/a\\b', o('/a/b'), b('/a/b')],
  ['backslash dot-dot is resolved', '/a\\..\\b', o('/b'), b('/b')],
  ['leading // is a path, never a host', '//evil.test/x', o('//evil.test/x'), b('//evil.test/x')],
  ['leading /\\ is a path, never a host', '/\\evil.test/x', o('//evil.test/x'), b('//evil.test/x')],
  ['empty segments are kept', '/a//b', o('/a//b'), b('/a//b')],
  ['%7e → ~ (unreserved decoded, RFC 3986 §6.2.2.2)', '/%7e', o('/~'), b('/~')],
  ['%7E → ~', '/%7E', o('/~'), b('/~')],
  ['%41 → A', '/%41', o('/A'), b('/A')],
  ['hex upper-cased (RFC 3986 §6.2.2.1)', '/%e2%82%ac', o('/%E2%82%AC'), b('/%E2%82%AC')],
  ['raw non-ASCII is percent-encoded as UTF-8', '/\u20ac', o('/%E2%82%AC'), b('/%E2%82%AC')],
  ['latin1 byte (as Node decodes the request line) kept as that byte', '/\u00e9', o('/%E9'), b('/%E9')],
  ['a stray % is left alone', '/a%zz', o('/a%zz'), b('/a%zz')],
  ['query kept as is (case too)', '/a?b=%2f&c=%7e', o('/a?b=%2f&c=%7e'), b('/a?b=%2f&c=%7e')],
  ['empty query dropped: the origin is asked for /a (Node sends pathname + search)', '/a?', o('/a'), b('/a')],
  ['a query of only "?" characters is kept', '/a??', o('/a??'), b('/a??')],
  ['dot segments in the query are not paths', '/a?x=/../y', o('/a?x=/../y'), b('/a?x=/../y')],
  ['fragment dropped', '/a#frag', o('/a'), b('/a')],
  ['fragment after a query dropped', '/a?q#f', o('/a?q'), b('/a?q')],
  ['NUL rejected', '/a\u0000b', undefined, undefined],
  ['CR LF rejected', '/a\r\nX: y', undefined, undefined],
  ['TAB rejected', '/a\tb', undefined, undefined],
  ['SP rejected', '/a b', undefined, undefined],
  ['DEL rejected', '/a\u007fb', undefined, undefined],
  ['a lone surrogate cannot be encoded: rejected', '/a\ud800', undefined, undefined],
  ['SP in the query rejected', '/a?q=a b', undefined, undefined],
  ['absolute-form rejected (RFC 9112 §3.2.2)', 'http://evil.test/x', undefined, undefined],
  ['absolute-form at our own origin rejected too', 'http://127.0.0.1:8000/x', undefined, undefined],
  ['authority-form rejected (RFC 9112 §3.2.3)', 'evil.test:443', undefined, undefined],
  ['asterisk-form rejected (RFC 9112 §3.2.4)', '*', undefined, undefined],
  ['empty target rejected', '', undefined, undefined],
  ['relative path rejected', 'a/b', undefined, undefined],
  ['8192 characters accepted', `/${'a'.repeat(8191)}`, o(`/${'a'.repeat(8191)}`), b(`/${'a'.repeat(8191)}`)],
  ['over 8 KiB rejected', `/${'a'.repeat(8192)}`, undefined, undefined],
];
