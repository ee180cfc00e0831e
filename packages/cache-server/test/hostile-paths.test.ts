import { beforeAll, describe, expect, test } from '@jest/globals';
import path from 'node:path';
import { listFiles, useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';

/**
 * Path tricks beyond path-safety.test.ts (dot segments, %2e%2e, %2f, non-origin forms): each is
 * either refused with a 4xx or keyed as exactly the path the origin is asked for, so it can
 * never read another resource's entry or a file outside the cache directory.
 */
describe('hostile request targets: a 4xx or a correctly normalised key', () => {
  const env = useOriginAndCache({
    '*': (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`origin saw ${req.url} host=${req.headers.host}`);
    },
  });
  beforeAll(async () => {
    // The resource every trick below would like to read.
    await request(env.cache.url, '/secret/data');
    await waitFor(
      async () => (await env.cache.store.lookup(`${env.origin.url}/secret/data`)).length === 1,
      'the entry',
    );
  });

  const originHost = () => new URL(env.origin.url).host;

  test.each([
    ['backslashes are slashes (WHATWG URL)', '/a\\b', '/a/b'],
    ['backslash dot segments', '/x\\..\\..\\etc\\passwd', '/etc/passwd'],
    ['a leading // stays a path, never a host', '//evil.example/x', '//evil.example/x'],
    ['/..// cannot climb out of the base', '/..//evil.example/x', '//evil.example/x'],
    ['double slashes are kept (a different resource)', '/secret//data', '/secret//data'],
    ['an encoded NUL stays encoded', '/secret/data%00.json', '/secret/data%00.json'],
    ['encoded dots and slash inside one segment are not a dot segment', '/a/%2e%2e%2fsecret', '/a/..%2Fsecret'],
    ['a trailing slash is another resource', '/secret/data/', '/secret/data/'],
    ['case matters in paths', '/SECRET/data', '/SECRET/data'],
    ['encoded unreserved characters are decoded', '/secret/%64ata', '/secret/data'],
  ])('%s: %s → %s', async (_rule, target, normalised) => {
    const { statuses, text } = await rawExchange(
      env.cache.url,
      `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(statuses).toEqual([200]);
    // The body names what the origin was asked: that is the key, and the origin's own host.
    expect(text).toContain(`origin saw ${normalised} host=${originHost()}`);
  });

  test('a target that normalises to a stored resource gets that entry (and only then)', async () => {
    const reply = await request(env.cache.url, '/secret/x/../data');
    expect(reply.headers['x-cache']).toBe('HIT');
    expect(reply.body.toString()).toBe(`origin saw /secret/data host=${originHost()}`);
  });

  test.each([
    ['a raw NUL in the target', 'GET /secret\0/data HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a raw tab in the target', 'GET /secret\t/data HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a target over 8 KiB', `GET /${'a'.repeat(8200)} HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['a target over the header size limit', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['a header over the header size limit', `GET /a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    // Not valid UTF-8: the router refuses to decode it, so it can never match another path.
    ['overlong UTF-8 dots', 'GET /a/%c0%ae%c0%ae/secret HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ])('%s → %i, and the origin is never asked', async (_rule, raw, status) => {
    const before = env.origin.requests.length;
    const { statuses } = await rawExchange(env.cache.url, raw);
    expect(statuses).toEqual([status]);
    expect(env.origin.requests.length).toBe(before);
  });

  test('after all of it, every file the cache wrote is inside its directory and named by a hash', async () => {
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'commits');
    for (const file of await listFiles(env.cache.config.cacheDir)) {
      expect(path.resolve(file).startsWith(path.resolve(env.cache.config.cacheDir) + path.sep)).toBe(true);
      expect(path.basename(file)).toMatch(/^[0-9a-f]{32}$|^[0-9a-f]{64}\.[0-9a-f]{64}\.json$/);
    }
  });
});
