// @system-packages curl
/**
 * Host and the request target (RFC 9112 §3.2, issue 12.8), from the outside: raw sockets for
 * what clients would never send, curl for what they do (`--request-target`, a proxy).
 * - exactly one Host, a valid `uri-host [ ":" port ]`, else 400 CACHE_ERR_BAD_HOST, and nothing
 *   reaches the origin, not even for a stored (fast-path) entry;
 * - an absolute-form target is accepted, its authority taking the place of Host.
 */
import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';

const run = promisify(execFile);

describe('Host and the request target', () => {
  const servers = useOriginAndCache({
    '*': (req, res) => {
      const body = `path=${req.url} host=${req.headers.host} xfh=${req.headers['x-forwarded-host']}`;
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    },
  });
  const raw = (head: string) => rawExchange(servers.cache.url, `${head}\r\nConnection: close\r\n\r\n`);
  const bodyOf = (text: string) => text.slice(text.indexOf('\r\n\r\n') + 4);

  test.each([
    ['two Host lines', 'GET /two HTTP/1.1\r\nHost: a.example\r\nHost: b.example'],
    ['two Host lines, same value', 'GET /two-same HTTP/1.1\r\nHost: a.example\r\nhost: a.example'],
    ['two Host lines in other cases', 'GET /two-cases HTTP/1.1\r\nHOST: a.example\r\nhOsT: a.example'],
    ['a Host with a path and userinfo', 'GET /evil HTTP/1.1\r\nHost: evil.example/x@y'],
    ['a Host with a space', 'GET /space HTTP/1.1\r\nHost: a b'],
    ['a Host with two colons', 'GET /colons HTTP/1.1\r\nHost: a:b:c'],
    ['a Host whose port is not a number', 'GET /port HTTP/1.1\r\nHost: a.example:80x'],
    ['no Host in HTTP/1.1', 'GET /none HTTP/1.1'],
    ['an empty Host (the target URI would have no host, RFC 9110 §4.2.1)', 'GET /empty HTTP/1.1\r\nHost:'],
    ['a Host with a port and no name', 'GET /port-only HTTP/1.1\r\nHost: :8080'],
  ])('%s: 400 CACHE_ERR_BAD_HOST, the origin never asked', async (_label, head) => {
    const before = servers.origin.count();
    const reply = await raw(head);
    expect(reply.statuses).toEqual([400]);
    expect(reply.text).toMatch(/x-cache-error: CACHE_ERR_BAD_HOST\r\n/i);
    expect(reply.closedByServer).toBe(true);
    expect(servers.origin.count()).toBe(before);
  });

  test.each([
    ['a name and port', 'h.example:8080'],
    ['an IPv6 literal', '[::1]:8001'],
  ])('a valid Host (%s) is served', async (_label, host) => {
    const reply = await raw(`GET /valid HTTP/1.1\r\nHost: ${host}`);
    expect(reply.statuses).toEqual([200]);
  });

  test.each(['HOST', 'hOsT'])('a Host line spelled %s is the Host (field names are case-insensitive)', async (name) => {
    const reply = await raw(`GET /spelled HTTP/1.1\r\n${name}: h.example`);
    expect(reply.statuses).toEqual([200]);
  });

  test('an empty Host is fine with an absolute-form target, whose authority replaces it', async () => {
    const reply = await raw('GET http://shop.example/empty-host HTTP/1.1\r\nHost:');
    expect(reply.statuses).toEqual([200]);
  });

  test('HTTP/1.0 needs no Host', async () => {
    expect((await rawExchange(servers.cache.url, 'GET /old HTTP/1.0\r\n\r\n')).statuses).toEqual([200]);
  });

  test('a stored entry (answered by the fast path) is not served to a request with two Host lines', async () => {
    await request(servers.cache.url, '/stored');
    await waitFor(() => servers.cache.proxy.inFlight.size === 0, 'the commit');
    expect((await request(servers.cache.url, '/stored')).headers['x-cache']).toBe('HIT');
    const reply = await raw('GET /stored HTTP/1.1\r\nHost: a.example\r\nHost: b.example');
    expect(reply.statuses).toEqual([400]);
    expect(reply.text).toMatch(/x-cache-error: CACHE_ERR_BAD_HOST/i);
  });

  test('absolute-form is accepted: its path and query are fetched, and its authority is the Host (§3.2.2)', async () => {
    const reply = await raw('GET http://shop.example:8080/absolute?q=1 HTTP/1.1\r\nHost: ignored.example');
    expect(reply.statuses).toEqual([200]);
    expect(bodyOf(reply.text)).toMatch(/^path=\/absolute\?q=1 host=127\.0\.0\.1:\d+ /);
    // The same resource as its origin-form: one entry.
    await waitFor(() => servers.cache.proxy.inFlight.size === 0, 'the commit');
    expect((await request(servers.cache.url, '/absolute?q=1')).headers['x-cache']).toBe('HIT');
  });

  test('a pass-through in absolute-form tells the origin the authority as X-Forwarded-Host', async () => {
    const reply = await raw(
      'POST http://shop.example:8080/form HTTP/1.1\r\nHost: ignored.example\r\nContent-Length: 0',
    );
    expect(reply.statuses).toEqual([200]);
    expect(bodyOf(reply.text)).toMatch(/xfh=shop\.example:8080$/);
  });

  test('absolute-form for the admin prefix reaches the admin endpoint, never the origin', async () => {
    const before = servers.origin.count();
    const reply = await raw('GET http://shop.example/_cache/health HTTP/1.1\r\nHost: shop.example');
    expect(reply.statuses).toEqual([200]);
    expect(servers.origin.count()).toBe(before);
  });

  test.each([
    ['userinfo', 'http://user:secret@shop.example/p'],
    ['no host', 'http:///p'],
    ['another scheme', 'ftp://shop.example/p'],
  ])('absolute-form with %s: 400 CACHE_ERR_BAD_REQUEST_TARGET', async (_label, target) => {
    const reply = await raw(`GET ${target} HTTP/1.1\r\nHost: shop.example`);
    expect(reply.statuses).toEqual([400]);
    expect(reply.text).toMatch(/x-cache-error: CACHE_ERR_BAD_REQUEST_TARGET/i);
  });

  test('curl --request-target with an absolute URL', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--request-target',
      'http://shop.example/curl-target?x=1',
      '-w',
      '\n%{http_code}',
      `${servers.cache.url}/ignored`,
    ]);
    expect(stdout).toMatch(/^path=\/curl-target\?x=1 .*\n200$/);
  });

  test('curl with the cache as its HTTP proxy (-x), as a browser configured so sends', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-x',
      servers.cache.url,
      '-w',
      '\n%{http_code}',
      'http://anything.example/via-proxy',
    ]);
    expect(stdout).toMatch(/^path=\/via-proxy .*\n200$/);
  });
});
